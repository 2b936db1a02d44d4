"""The newsletter: subscribers with double opt-in, campaigns, and the Celery senders (docs/newsletter.md)."""
