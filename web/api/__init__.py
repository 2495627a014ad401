"""JSON API routers (/api/…, /healthz, /metrics): intake, inquiries, leads, time slots, CRM, automations, settings."""
