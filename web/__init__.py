"""The FastAPI app: JSON API (api/), server-rendered office and prospect pages (pages/), security (security/).

Handlers translate HTTP to service calls and back; Jinja2 templates in templates/, CSS and pictures in
static/. Built by web/app.py's create_app; run by `immoflow web` or the dev stack.
"""
