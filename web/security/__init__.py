"""Who may call what: login sessions and bearer tokens (auth), CSRF for forms, login throttling, password hashing."""
