"""Admin: bots."""
