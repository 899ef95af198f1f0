"""Posts for tests, made through the same service the product uses."""

from accounts.models import User
from posts.models import Post
from posts.services.editing import post_create


def make_post(author: User, *, status: str = Post.Status.DRAFT, **fields: object) -> Post:
    fields.setdefault("title", "A post about sleep")
    fields.setdefault("body_markdown", "## Why we wake\n\nWorry peaks at 3 a.m. for most of us.")
    post = post_create(author=author, embed=False, **fields)
    if status != Post.Status.DRAFT:
        Post.objects.filter(id=post.id).update(status=status)
        post.refresh_from_db()
    return post
