"""Use cases shared by the web app, the CLI and the dispatcher: one place for each rule, whatever the caller.

Each service takes the Services context (context.py: settings, sessions, Temporal client) or a session,
and answers with domain results or errors the callers translate (HTTP status, flash message, exit code).
"""
