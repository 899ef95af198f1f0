from django.db import migrations


def sync(apps, schema_editor) -> None:  # noqa: ANN001
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    """Give the roles their permissions on the post models (accounts.roles lists them)."""

    dependencies = [("posts", "0002_posts"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
