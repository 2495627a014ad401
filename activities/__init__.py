"""Activities: the @activity.defn classes workflows call, each built with the dependencies it needs.

Thin on purpose: an activity loads what its step needs, calls stores (db/), composers and transports
(messaging/) or the automation engine (automations/), and returns a small pydantic result. Everything that
touches the database, SMTP, an SMS gateway or the outside clock on a workflow's behalf runs here, so it is
retried by Temporal and never replayed. Activity names are part of recorded histories: never rename one.
"""
