"""Server-rendered pages: the office UI (dashboard, leads, slots, automations, settings, templates) and the
prospects' pages (/confirm/{token}, /slots/{token}), German, with CSRF-protected forms."""
