"""Everything about a message but sending it from a workflow: templates, composers, transports.

Templating in Jinja2's sandbox with the office's editable templates and the German defaults; the inquiry
and time-slot composers that turn a step into an outbox row; the .ics invitation; the SMTP-facing transport
protocol and the SMS gateway. Delivery (claim, send, record) is messaging/outbox_delivery.py.
"""
