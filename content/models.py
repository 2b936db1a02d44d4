"""Blog, documentation and the newsletter."""
