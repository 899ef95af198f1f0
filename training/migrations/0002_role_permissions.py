from django.db import migrations


def sync(apps, schema_editor) -> None:  # noqa: ANN001
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("training", "0001_registry"), ("compliance", "0003_role_permissions")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
