"""Migration operations for what only PostgreSQL has (the embedded SQLite default skips them)."""

from django.db import migrations


class AddIndexOnPostgres(migrations.AddIndex):
    """``AddIndex`` that creates the index on PostgreSQL only (a GIN index, say); the model state
    records it everywhere, so ``makemigrations`` stays quiet on both databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
