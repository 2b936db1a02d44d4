"""PlanLimit now belongs to billing (billing 0001 took the table over); only the model state leaves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("projects", "0004_invitations_by_email"), ("billing", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="PlanLimit")]),
    ]
