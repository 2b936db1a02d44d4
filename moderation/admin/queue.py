"""Admin: queue."""
