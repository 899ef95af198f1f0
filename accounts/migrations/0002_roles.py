from django.db import migrations


def create_roles(apps, schema_editor) -> None:  # noqa: ANN001
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    """The four role groups and their permissions (accounts.roles is the single source)."""

    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
