"""Keeps a docs page's heap row narrow, so a search scans vectors and not page bodies (PostgreSQL only).

A search ranks every match: it reads ``search_vector`` of each matching page. By default a row keeps
its largest columns compressed in line up to ~2 kB, so the heap holds ``content`` and
``search_content`` too and a scan of 50,000 pages reads ~300 MB. ``toast_tuple_target = 128`` moves
those two out of line (read only for the page shown and the snippets), and ``STORAGE MAIN`` keeps
the vector in line (compressed) rather than behind a TOAST lookup: the broadest search of the
100,000-page benchmark went from ~1,000 ms to ~250 ms. See docs/search.md. Rows written before this
migration change as they are next saved.
"""

from django.db import migrations

FORWARDS = [
    "ALTER TABLE documentation SET (toast_tuple_target = 128)",
    "ALTER TABLE documentation ALTER COLUMN search_vector SET STORAGE MAIN",
]
BACKWARDS = [
    "ALTER TABLE documentation RESET (toast_tuple_target)",
    "ALTER TABLE documentation ALTER COLUMN search_vector SET STORAGE EXTENDED",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS), elidable=False)]
