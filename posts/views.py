"""The editor's pages. Each view parses input, checks permission, calls one service, renders."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions as can
from blogllm.refusals import refusal_text
from blogllm.shedding import shed_when_busy
from posts import selectors
from posts.diffs import diff_html
from posts.forms import (
    CommentForm,
    ImportForm,
    NewPostForm,
    PostFilterForm,
    PostForm,
    ScheduleForm,
    SearchForm,
)
from posts.models import ImportJob, Post, Revision
from posts.services import workflow
from posts.services.editing import StaleEditError, post_create, post_update
from posts.services.importing import import_job_create
from posts.services.rendering import count_words, render_markdown

readers_only = can.allowed(can.can_read_posts, "Your role does not include posts.")


def _post_for(request: HttpRequest, post_id: int) -> Post:
    try:
        return selectors.post_get(user=request.user, post_id=post_id)
    except Post.DoesNotExist:
        raise Http404("No such post, or not one you may see.") from None


@readers_only
@require_GET
def post_list(request: HttpRequest) -> HttpResponse:
    form = PostFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    posts = selectors.post_list(
        user=request.user,
        status=filters.get("status", ""),
        channel=filters.get("channel", ""),
        tag=filters.get("tag", ""),
        query=filters.get("q", ""),
    )
    page = Paginator(posts, 25).get_page(request.GET.get("page"))
    return render(request, "posts/list.html", {"form": form, "page": page})


@can.allowed(can.can_draft_posts)
def post_new(request: HttpRequest) -> HttpResponse:
    form = NewPostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["channel"] == Post.Channel.CLINICAL and not can.can_write_clinical_posts(
            request.user
        ):
            form.add_error("channel", "Only editors and compliance officers write clinical posts.")
            return render(request, "posts/edit.html", {"form": form, "post": None})
        try:
            post = post_create(
                author=request.user,
                title=data["title"],
                body_markdown=data["body_markdown"],
                excerpt=data["excerpt"],
                tags=data["tags"],
                slug=data["slug"],
                channel=data["channel"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Draft created.")
            return redirect("posts:edit", post_id=post.id)
    return render(request, "posts/edit.html", {"form": form, "post": None})


@readers_only
@require_GET
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_for(request, post_id)
    context = {
        "post": post,
        "actions": workflow.allowed_actions(request.user, post),
        "can_edit": can.can_edit_post(request.user, post),
        "revisions": post.revisions.select_related("author")[:20],
        "transitions": post.transitions.select_related("by")[:20],
        "schedule_form": ScheduleForm(),
        "comment_form": CommentForm(),
    }
    return render(request, "posts/detail.html", context)


@readers_only
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_for(request, post_id)
    if not can.can_edit_post(request.user, post):
        messages.error(
            request,
            "This post cannot be edited now (only drafts, or posts in review by an editor).",
        )
        return redirect("posts:detail", post_id=post.id)
    if request.method != "POST":
        return _editor(request, PostForm.for_post(post), post)

    form = PostForm(request.POST)
    if not form.is_valid():
        return _editor(request, form, post, status=400)
    data = form.cleaned_data
    try:
        post = post_update(
            post_id=post.id,
            by=request.user,
            expected_version=data["version"] or post.version,
            title=data["title"],
            body_markdown=data["body_markdown"],
            excerpt=data["excerpt"],
            tags=data["tags"],
            slug=data["slug"],
        )
    except StaleEditError as exc:
        return _conflict(request, form, exc.current)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, refusal_text(exc))
        return _editor(request, form, post, status=400)
    messages.success(request, f"Saved (version {post.version}).")
    return redirect("posts:edit", post_id=post.id)


def _conflict(request: HttpRequest, form: PostForm, current: Post) -> HttpResponse:
    """Someone saved first: keep the user's text in the form, show what the other person changed,
    and let the user save over it knowingly (the form now carries the current version)."""
    mine = form.cleaned_data["body_markdown"]
    data = form.data.copy()
    data["version"] = str(current.version)
    return _editor(
        request,
        PostForm(data),
        current,
        status=409,
        conflict=True,
        conflict_diff=diff_html(current.body_markdown, mine)[0],
    )


def _editor(
    request: HttpRequest, form: PostForm, post: Post, *, status: int = 200, **extra: object
) -> HttpResponse:
    """The editor page for an existing post, with the AI's rewrite and continue when the user
    may ask for them on the post's channel (generation/assist.py)."""
    assist = can.can_request_drafts(request.user, post.channel)
    context = {"form": form, "post": post, "assist": assist}
    return render(request, "posts/edit.html", context | extra, status=status)


@readers_only
@require_POST
def post_autosave(request: HttpRequest, post_id: int) -> HttpResponse:
    """htmx: save the editor quietly; answers with the status line and the new version."""
    post = _post_for(request, post_id)
    form = PostForm(request.POST)
    if not form.is_valid():
        return render(
            request, "posts/partials/autosave.html", {"error": "Not saved: check the form."}
        )
    data = form.cleaned_data
    try:
        post = post_update(
            post_id=post.id, by=request.user, expected_version=data["version"] or post.version,
            title=data["title"], body_markdown=data["body_markdown"], excerpt=data["excerpt"],
            tags=data["tags"], slug=data["slug"], autosave=True,
        )  # fmt: skip
    except StaleEditError as exc:
        error = f"Not saved: someone saved version {exc.current.version}. Save to compare."
        return render(request, "posts/partials/autosave.html", {"error": error})
    except PermissionDenied as exc:
        return render(request, "posts/partials/autosave.html", {"error": str(exc)})
    return render(request, "posts/partials/autosave.html", {"post": post})


@readers_only
@require_POST
def post_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the live preview with word count and reading time, rendered and sanitised here."""
    html = render_markdown(request.POST.get("body_markdown", ""))
    words = count_words(html)
    context = {"html": html, "words": words, "minutes": Post(word_count=words).reading_minutes}
    return render(request, "posts/partials/preview.html", context)


@readers_only
@require_POST
def post_action(request: HttpRequest, post_id: int, action: str) -> HttpResponse:
    post = _post_for(request, post_id)
    comment = CommentForm(request.POST)
    text = comment.cleaned_data["comment"] if comment.is_valid() else ""
    try:
        if action == "submit":
            workflow.post_submit(post=post, by=request.user)
        elif action == "approve":
            workflow.post_approve(post=post, by=request.user, comment=text)
        elif action == "request_changes":
            workflow.post_request_changes(post=post, by=request.user, comment=text)
        elif action == "publish":
            workflow.post_publish(post=post, by=request.user)
        elif action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Pick a date and time to publish at.")
            workflow.post_schedule(post=post, by=request.user, at=form.cleaned_data["at"])
        elif action == "unschedule":
            workflow.post_unschedule(post=post, by=request.user)
        elif action == "archive":
            workflow.post_archive(post=post, by=request.user, comment=text)
        elif action == "back_to_draft":
            workflow.post_back_to_draft(post=post, by=request.user, reason=text)
        else:
            raise Http404("Unknown action.")
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, refusal_text(exc))
    else:
        post.refresh_from_db()
        messages.success(request, f"“{post.title}” is now {post.get_status_display().lower()}.")
    return redirect(request.POST.get("next") or reverse("posts:detail", args=[post.id]))


@readers_only
@require_GET
def post_review(request: HttpRequest, post_id: int) -> HttpResponse:
    """The review screen: the text with changes since the last approved (or published) version."""
    post = _post_for(request, post_id)
    baseline = (
        post.revisions.filter(status__in=[Post.Status.APPROVED, Post.Status.PUBLISHED])
        .exclude(version=post.version)
        .first()
    )
    if baseline is None:
        baseline = post.revisions.exclude(version=post.version).first()
    diff, stats = diff_html(baseline.body_markdown if baseline else "", post.body_markdown)
    context = {
        "post": post,
        "baseline": baseline,
        "diff": diff,
        "stats": stats,
        "actions": workflow.allowed_actions(request.user, post),
        "comment_form": CommentForm(),
        "transitions": post.transitions.select_related("by")[:10],
    }
    return render(request, "posts/review.html", context)


@readers_only
@require_GET
def revision_detail(request: HttpRequest, post_id: int, version: int) -> HttpResponse:
    post = _post_for(request, post_id)
    revision = get_object_or_404(
        Revision.objects.select_related("author"), post=post, version=version
    )
    previous = post.revisions.filter(version__lt=version).first()
    diff, stats = diff_html(previous.body_markdown if previous else "", revision.body_markdown)
    context = {
        "post": post,
        "revision": revision,
        "previous": previous,
        "diff": diff,
        "stats": stats,
    }
    return render(request, "posts/revision.html", context)


@readers_only
@require_GET
# It embeds the query: the costliest page per request.
@shed_when_busy("search", "Many people are searching right now; try again in a moment.")
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    hits = None
    if form.is_valid():
        channel = form.cleaned_data["channel"] or Post.Channel.GENERAL
        may_see_unpublished = can.can_review_posts(request.user)
        if not can.can_search_channel(request.user, channel):
            raise PermissionDenied("Only editors and compliance officers search clinical posts.")
        statuses = [Post.Status.PUBLISHED]
        if form.cleaned_data["include_drafts"] and may_see_unpublished:
            statuses += [Post.Status.DRAFT, Post.Status.IN_REVIEW, Post.Status.APPROVED]
        hits = selectors.chunk_search(
            form.cleaned_data["q"], channels=[channel], statuses=statuses, limit=10
        )
    template = "posts/partials/search_results.html" if request.htmx else "posts/search.html"
    return render(request, template, {"form": form, "results": _by_post(hits)})


def _by_post(hits: list[selectors.SearchHit] | None) -> list[dict] | None:
    """One result per post, best passage first, with up to two more passages beneath."""
    if hits is None:
        return None
    results: dict[int, dict] = {}
    for hit in hits:
        entry = results.setdefault(hit.post_id, {"best": hit, "more": []})
        if entry["best"] is not hit and len(entry["more"]) < 2:
            entry["more"].append(hit)
    return list(results.values())


@can.allowed(can.can_draft_posts)
def import_posts(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    valid = request.method == "POST" and form.is_valid()
    clinical = valid and form.cleaned_data["channel"] == Post.Channel.CLINICAL
    if clinical and not can.can_write_clinical_posts(request.user):
        form.add_error("channel", "Only editors and compliance officers import clinical posts.")
        valid = False
    if valid:
        job = import_job_create(
            by=request.user, upload=form.cleaned_data["file"], channel=form.cleaned_data["channel"]
        )
        return redirect("posts:import_job", job_id=job.id)
    jobs = ImportJob.objects.filter(by=request.user)[:20]
    return render(request, "posts/import.html", {"form": form, "jobs": jobs})


@readers_only
@require_GET
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, id=job_id, by=request.user)
    template = "posts/partials/import_progress.html" if request.htmx else "posts/import_job.html"
    return render(request, template, {"job": job})


@can.allowed(can.can_review_posts)
@require_GET
def corpus_overview(request: HttpRequest) -> HttpResponse:
    """The training corpus at a glance: the split, duplicates and contact details flagged."""
    corpus = Post.objects.filter(status=Post.Status.PUBLISHED)
    split = dict(corpus.values_list("split").annotate(n=Count("id")))
    context = {
        "split": split,
        "total": sum(split.values()),
        "duplicates": corpus.exclude(duplicate_of=None).select_related("duplicate_of")[:100],
        "contacts": corpus.exclude(contact_findings=[])[:100],
        "validation": corpus.filter(split=Post.Split.VALIDATION).only("id", "title")[:200],
    }
    return render(request, "posts/corpus.html", context)
