"""`immoflow dev`: the whole stack on one machine (Temporal dev server, SMTP sink, worker, web app).

stack.py runs it, config.py decides what runs with which arguments (pure), children.py owns the child
processes, smtp_sink.py keeps every mail, demo.py loads the demo office on first start.
"""
