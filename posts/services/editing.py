"""Creating and editing posts: revisions, optimistic concurrency, autosave, tags, slugs."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import permissions as can
from accounts.models import User
from posts import corpus
from posts.models import Post, Revision, Tag
from posts.services.rendering import count_words, render_markdown

# Autosaves by the same person within this window update their latest revision in place, so
# typing for an hour leaves a handful of revisions, not hundreds.
AUTOSAVE_COALESCE = timedelta(minutes=10)


class StaleEditError(Exception):
    """The post was saved by someone else after this edit began. `current` is the newer post;
    the caller shows it beside the user's own text, which is never thrown away."""

    def __init__(self, current: Post) -> None:
        super().__init__(
            f"{current.title!r} was changed (now version {current.version}) while you were editing."
        )
        self.current = current


def normalise_tags(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        cleaned = " ".join(name.strip().lower().split())[:64]
        if cleaned:
            seen.setdefault(cleaned)
    return list(seen)


def set_tags(post: Post, names: Iterable[str]) -> None:
    tags = []
    for name in normalise_tags(names):
        tag, _ = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    post.tags.set(tags)


def unique_slug(text: str, *, exclude_id: int | None = None) -> str:
    base = slugify(text)[:90].strip("-") or "post"
    slug, n = base, 2
    taken = Post.objects.exclude(id=exclude_id) if exclude_id else Post.objects.all()
    while taken.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def apply_content(post: Post) -> None:
    """Derived fields of the body: the sanitised HTML and the corpus fingerprints."""
    words = len(post.body_markdown.split())  # counted before the (costly) rendering
    if words > settings.POST_MAX_WORDS:
        raise ValidationError(
            f"The text has {words:,} words; a post may have at most {settings.POST_MAX_WORDS:,} "
            "(BLOGLLM_POST_MAX_WORDS). Split it into several posts."
        )
    # Browsers send textarea text with CRLF line endings; store one kind.
    post.body_markdown = post.body_markdown.replace("\r\n", "\n").replace("\r", "\n")
    post.body_html = render_markdown(post.body_markdown)
    post.word_count = count_words(post.body_html)
    post.content_hash = corpus.content_hash(post.body_markdown)
    post.minhash = list(corpus.MinHasher().signature(post.body_markdown))


@transaction.atomic
def post_create(
    *,
    author: User,
    title: str,
    body_markdown: str = "",
    excerpt: str = "",
    tags: Iterable[str] = (),
    slug: str = "",
    channel: str = Post.Channel.GENERAL,
    source: str = Post.Source.WRITTEN,
    status: str = Post.Status.DRAFT,
    published_at: datetime | None = None,
    embed: bool = True,
) -> Post:
    """Create a post with its first revision; `embed=False` lets a bulk import embed later."""
    title = title.strip()
    if not title:
        raise ValidationError("A post needs a title.")
    post = Post(
        author=author,
        title=title,
        body_markdown=body_markdown,
        excerpt=excerpt.strip(),
        channel=channel,
        source=source,
        status=status,
        published_at=published_at,
    )
    post.slug = unique_slug(slug or title)
    post.split = corpus.split_for(str(post.uid))
    apply_content(post)
    post.save()
    set_tags(post, tags)
    record_revision(post, by=author)
    if embed:
        _embed_after_commit(post)
    return post


@transaction.atomic
def post_update(
    *,
    post_id: int,
    by: User,
    expected_version: int,
    title: str,
    body_markdown: str,
    excerpt: str = "",
    tags: Iterable[str] = (),
    slug: str = "",
    autosave: bool = False,
) -> Post:
    """Save new content if nobody saved since `expected_version`; raises StaleEditError if so."""
    post = Post.objects.select_for_update().get(id=post_id)
    if not can.can_edit_post(by, post):
        raise PermissionDenied(
            f"You cannot edit {post.title!r} while it is {post.get_status_display().lower()}."
        )
    if post.version != expected_version:
        raise StaleEditError(post)
    tag_names = normalise_tags(tags)
    new_slug = unique_slug(slug, exclude_id=post.id) if slug and slug != post.slug else post.slug
    unchanged = (
        post.title == title.strip()
        and post.body_markdown == body_markdown
        and post.excerpt == excerpt.strip()
        and post.slug == new_slug
        and sorted(t.name for t in post.tags.all()) == sorted(tag_names)
    )
    if unchanged:
        return post
    post.title, post.body_markdown, post.excerpt, post.slug = (
        title.strip() or post.title,
        body_markdown,
        excerpt.strip(),
        new_slug,
    )
    post.version += 1
    apply_content(post)
    post.save(
        update_fields=[
            "title", "body_markdown", "excerpt", "slug", "version", "body_html", "word_count",
            "content_hash", "minhash", "updated_at",
        ]
    )  # fmt: skip
    set_tags(post, tag_names)
    record_revision(post, by=by, autosave=autosave)
    if not autosave:  # typing is not worth re-embedding; the next real save does it
        _embed_after_commit(post)
    return post


def record_revision(post: Post, *, by: User | None, autosave: bool = False) -> Revision:
    now = timezone.now()
    fields = {
        "version": post.version,
        "title": post.title,
        "body_markdown": post.body_markdown,
        "excerpt": post.excerpt,
        "tags": sorted(t.name for t in post.tags.all()),
        "status": post.status,
        "saved_at": now,
    }
    latest = post.revisions.order_by("-version").first()
    if (
        autosave
        and latest is not None
        and latest.autosave
        and latest.author_id == getattr(by, "id", None)
        and latest.status == post.status
        and latest.saved_at >= now - AUTOSAVE_COALESCE
    ):
        for name, value in fields.items():
            setattr(latest, name, value)
        latest.save(update_fields=list(fields))
        return latest
    return Revision.objects.create(
        post=post, author=by, created_at=now, autosave=autosave, **fields
    )


def _embed_after_commit(post: Post) -> None:
    from posts.tasks import post_embed_task

    post_id = post.id
    transaction.on_commit(lambda: post_embed_task.delay(post_id=post_id))
