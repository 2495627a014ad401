"""starter/services."""
