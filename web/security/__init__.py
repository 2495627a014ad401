"""web/security."""
