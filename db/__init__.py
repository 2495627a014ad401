"""The CRM store: typed SQLAlchemy models, engine and sessions."""
