"""Docs search at 100,000 pages (PostgreSQL only; measured in docs/search.md):

- The GIN index holds ``version`` beside the vector (btree_gin), so a search within a version is one
  index scan; before, PostgreSQL and-ed the vector's bitmap with a bitmap of every page of the
  version (~20 ms at 50,000 pages) even when three pages matched.
- ``toast_tuple_target = 128`` moves ``content`` and ``search_content`` out of the heap row (read
  only for the page shown and the snippets), and ``STORAGE MAIN`` keeps the vector in it, compressed:
  ranking every match reads vectors, not page bodies (the broadest benchmark search, 38,706 matches,
  went from ~1,000 ms to ~250 ms). Rows written earlier change as they are next saved.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import BtreeGinExtension
from django.db import migrations

from agentwise.migration_ops import AddIndexOnPostgres

STORAGE = [
    "ALTER TABLE documentation SET (toast_tuple_target = 128)",
    "ALTER TABLE documentation ALTER COLUMN search_vector SET STORAGE MAIN",
]
STORAGE_BACK = [
    "ALTER TABLE documentation RESET (toast_tuple_target)",
    "ALTER TABLE documentation ALTER COLUMN search_vector SET STORAGE EXTENDED",
]


class RemoveIndexOnPostgres(migrations.RemoveIndex):
    """The index only ever existed on PostgreSQL (``AddIndexOnPostgres``)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [
        BtreeGinExtension(),  # a no-op on SQLite
        RemoveIndexOnPostgres(model_name="documentation", name="documentation_search_idx"),
        AddIndexOnPostgres(
            model_name="documentation",
            index=GinIndex(fields=["version", "search_vector"], name="documentation_search_idx"),
        ),
        migrations.RunPython(_run(STORAGE), _run(STORAGE_BACK), elidable=False),
    ]
