"""starter/devstack."""
