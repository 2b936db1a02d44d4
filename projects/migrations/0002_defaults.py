"""Initial plan limits and model prices (staff edit both in the admin); a trigram index for name search."""

from django.db import migrations

def add_defaults(apps, schema_editor):
    from billing.plans import ensure_plan_limits
    from projects.reference import ensure_model_prices

    ensure_plan_limits(apps.get_model("projects", "PlanLimit"))
    ensure_model_prices(apps.get_model("projects", "ModelPrice"))


def add_name_trigram_index(apps, schema_editor):
    # `?search=` is a substring match; on PostgreSQL a trigram index serves it. SQLite scans (dev only).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS projects_name_trgm ON projects_project USING gin (name gin_trgm_ops)"
        )


def drop_name_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS projects_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
        migrations.RunPython(add_name_trigram_index, drop_name_trigram_index),
    ]
