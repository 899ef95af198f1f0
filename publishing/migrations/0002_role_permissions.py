from django.db import migrations


def sync(apps, schema_editor) -> None:  # noqa: ANN001
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0001_initial"),
        ("training", "0003_model_version_draft_quality"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
