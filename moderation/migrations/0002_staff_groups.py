"""The Moderators and Billing admins groups (moderation/roles.py)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from moderation.roles import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("community", "0005_moderation_state"),
        ("accounts", "0004_notification_preferences_mutes_digest"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("djstripe", "__latest__"),  # tests build dj-stripe in one migration of their own
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
