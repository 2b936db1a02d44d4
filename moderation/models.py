"""Moderation queue, audit log, bot detection and profanity rules."""
