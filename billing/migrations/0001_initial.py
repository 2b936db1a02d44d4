"""PlanLimit moves from projects to billing: the table is taken over as it is (no copy), then renamed."""

from django.db import migrations, models


def move_content_type(apps, schema_editor, old="projects", new="billing"):
    """Permissions (and admin log entries) follow the model instead of being orphaned."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="planlimit").exists():
        ContentType.objects.filter(app_label=old, model="planlimit").update(app_label=new)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, old="billing", new="projects")


class Migration(migrations.Migration):
    initial = True

    dependencies = [("projects", "0004_invitations_by_email"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PlanLimit",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("tier", models.CharField(max_length=50, unique=True)),
                        ("max_active_projects", models.PositiveIntegerField(blank=True, null=True)),
                        ("max_collaborators_per_project", models.PositiveIntegerField(blank=True, null=True)),
                        ("executions_per_month", models.PositiveIntegerField(blank=True, null=True)),
                        ("api_calls_per_day", models.PositiveIntegerField(blank=True, null=True)),
                    ],
                    options={"ordering": ["tier"], "db_table": "projects_planlimit"},
                ),
            ],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
