"""starter/ops."""
