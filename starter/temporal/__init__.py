"""starter/temporal."""
