from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("projects", "0005_planlimit_to_billing")]

    operations = [migrations.AlterModelTable(name="planlimit", table=None)]
