"""Admin: rules."""
