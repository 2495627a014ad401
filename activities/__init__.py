"""Activities: everything that touches the database, SMTP, an SMS gateway or the outside clock."""
