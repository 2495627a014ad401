"""The CRM store: typed SQLAlchemy models, engine and sessions, and the stores built on them.

Stores write a change and its domain event (db/events.py) in the caller's transaction; the outbox
(messaging/outbox.py) makes every outgoing message a row with an idempotency key before anything is sent.
Nothing here knows Temporal, the web app or how mails are composed.
"""
