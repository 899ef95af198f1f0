from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """pgvector, for post and note chunk embeddings. Needs a role allowed to create extensions
    (the embedded server's superuser; cloudsqlsuperuser on Cloud SQL)."""

    initial = True
    dependencies: list = []
    operations = [VectorExtension()]
