"""starter/events."""
