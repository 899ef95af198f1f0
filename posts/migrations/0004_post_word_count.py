from django.db import migrations, models


def count_existing(apps, schema_editor) -> None:  # noqa: ANN001
    from posts.services.rendering import count_words

    Post = apps.get_model("posts", "Post")
    batch = []
    for post in Post.objects.only("id", "body_html").iterator(chunk_size=500):
        post.word_count = count_words(post.body_html)
        batch.append(post)
        if len(batch) == 500:
            Post.objects.bulk_update(batch, ["word_count"])
            batch = []
    Post.objects.bulk_update(batch, ["word_count"])


class Migration(migrations.Migration):
    """Store each post's word count (it was counted from the HTML on every read)."""

    dependencies = [("posts", "0003_role_permissions")]
    operations = [
        migrations.AddField(
            model_name="post",
            name="word_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
