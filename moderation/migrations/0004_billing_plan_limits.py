"""Billing admins manage the plan limits, which moved to the billing app."""

from django.db import migrations

from moderation.roles import sync_groups


def sync(apps, schema_editor):
    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0003_project_flags"),
        ("billing", "0002_planlimit_table"),
        ("djstripe", "__latest__"),  # tests build dj-stripe in one migration of their own
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
