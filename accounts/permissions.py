"""Who may do what: every per-role and per-channel rule, as a plain function. The one place.

Roles grant Django permissions (accounts/roles.py); the functions here turn those permissions,
a channel and, where it matters, an object's owner or state into a yes or no. Services raise
PermissionDenied on a no, selectors narrow their queries with `channels_where`, views and the
navigation show what the functions allow, and templates read `can` (the `permissions` context
processor). tests/accounts/test_permissions.py reads as the table of these rules.

Objects are taken duck-typed (a post's `author_id`, `status`, `channel`, …) so this module imports
no app above accounts: accounts is the bottom layer.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

# The channels (posts.models.Post.Channel has the same values and their labels).
GENERAL, CLINICAL = "general", "clinical"
CHANNELS = (GENERAL, CLINICAL)

# The permissions the roles grant (their codenames live in accounts.models.User.Meta).
DRAFT_POSTS = "accounts.draft_posts"
REVIEW_POSTS = "accounts.review_posts"
APPROVE_CLINICAL_POSTS = "accounts.approve_clinical_posts"
REQUEST_AI_DRAFTS = "accounts.request_ai_drafts"
HANDLE_CLINICAL_NOTES = "accounts.handle_clinical_notes"
MANAGE_GENERAL_MODELS = "accounts.manage_general_models"
MANAGE_CLINICAL_MODELS = "accounts.manage_clinical_models"
VIEW_AUDIT_TRAIL = "accounts.view_audit_trail"
MANAGE_USERS = "accounts.manage_users"

User = (
    Any  # accounts.models.User or AnonymousUser; typed loosely so admin and tests can pass either
)


def _has(user: User, permission: str) -> bool:
    return (
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(permission)
    )


# --- Posts -----------------------------------------------------------------------------------


def can_draft_posts(user: User) -> bool:
    """Authors (and editors): write and import their own posts."""
    return _has(user, DRAFT_POSTS)


def can_review_posts(user: User) -> bool:
    """Editors: review, schedule, publish and archive anyone's posts."""
    return _has(user, REVIEW_POSTS)


def can_approve_clinical_posts(user: User) -> bool:
    """Compliance officers: the second approval a clinical post needs."""
    return _has(user, APPROVE_CLINICAL_POSTS)


def can_read_posts(user: User) -> bool:
    """The posts pages are for those who write, review or approve posts."""
    return can_draft_posts(user) or can_review_posts(user) or can_approve_clinical_posts(user)


def can_see_unpublished_posts(user: User) -> bool:
    """Everyone's drafts and reviews, not only one's own (editors and compliance officers)."""
    return can_review_posts(user) or can_approve_clinical_posts(user)


def can_search_channel(user: User, channel: str) -> bool:
    if channel == CLINICAL:
        return can_see_unpublished_posts(user)
    return can_read_posts(user)


def can_edit_post(user: User, post: Any) -> bool:
    """Editors edit any post still in draft or review; authors their own drafts."""
    if not post.is_editable:
        return False
    if can_review_posts(user):
        return True
    return post.author_id == user.id and post.is_draft and can_draft_posts(user)


def can_submit_post(user: User, post: Any) -> bool:
    return post.author_id == user.id or can_review_posts(user)


def post_approval_role(user: User, post: Any) -> str | None:
    """Which approval `user` can still give `post`: 'editor', 'clinical' or None. Nobody
    approves their own post."""
    if post.author_id == user.id:
        return None
    if can_review_posts(user) and post.editor_approved_by_id is None:
        return "editor"
    if (
        post.is_clinical
        and can_approve_clinical_posts(user)
        and post.clinical_approved_by_id is None
    ):
        return "clinical"
    return None


def can_request_post_changes(user: User, post: Any) -> bool:
    return can_review_posts(user) or (post.is_clinical and can_approve_clinical_posts(user))


def can_send_post_back_to_draft(user: User, post: Any, *, in_review: bool) -> bool:
    """Editors, from any later state; the author, to withdraw their post from review."""
    return can_review_posts(user) or (post.author_id == user.id and in_review)


def can_write_clinical_posts(user: User) -> bool:
    """Who may write a clinical-channel post themselves (by hand or through the API): editors
    and compliance officers, never an author alone."""
    return can_review_posts(user) or _has(user, HANDLE_CLINICAL_NOTES)


def can_publish_posts(user: User) -> bool:
    """Publish, schedule, unschedule and archive: editors."""
    return can_review_posts(user)


# --- AI drafts -------------------------------------------------------------------------------


def can_request_drafts(user: User, channel: str) -> bool:
    """Authors ask for general drafts; compliance officers for clinical ones."""
    if channel == CLINICAL:
        return _has(user, HANDLE_CLINICAL_NOTES)
    return _has(user, REQUEST_AI_DRAFTS)


def can_review_drafts(user: User, channel: str) -> bool:
    """Who oversees a channel's AI drafts (everyone's, not only their own): its runs, dashboard
    and experiments. Editors the general channel, compliance officers the clinical one."""
    if channel == CLINICAL:
        return _has(user, HANDLE_CLINICAL_NOTES)
    return _has(user, REVIEW_POSTS)


def can_oversee_run(user: User, run: Any) -> bool:
    """See, cancel and rate one run: whoever asked for it, or a reviewer of its channel."""
    return run.requested_by_id == user.id or can_review_drafts(user, run.channel)


def can_take_proposal(user: User, run: Any) -> bool:
    """A rewrite or continuation is taken into the post only by whoever asked for it."""
    return run.requested_by_id == user.id


def can_edit_voice_guide(user: User, author: Any) -> bool:
    """Authors keep their own voice guide; editors anyone's."""
    return author.id == user.id or can_review_posts(user)


# --- Models ----------------------------------------------------------------------------------


def can_manage_models(user: User, channel: str) -> bool:
    """Train, evaluate, promote, roll back, archive and experiment: editors on general,
    compliance officers on clinical."""
    if channel == CLINICAL:
        return _has(user, MANAGE_CLINICAL_MODELS)
    return _has(user, MANAGE_GENERAL_MODELS)


def require_manage_models(user: User | None, channel: str) -> None:
    """`None` is the operator at the command line (manage.py), who holds the server's keys; on
    the clinical channel even they must name the compliance officer who decides."""
    if user is None and channel == CLINICAL:
        raise PermissionDenied(
            "Clinical models are managed by a named compliance officer (manage.py … --as EMAIL)."
        )
    if user is not None and not can_manage_models(user, channel):
        who = "compliance officers" if channel == CLINICAL else "editors"
        raise PermissionDenied(f"Only {who} may train and manage {channel} models.")


# --- Compliance and administration -----------------------------------------------------------


def can_handle_clinical_notes(user: User) -> bool:
    """Upload, review and decide clinical notes (the uploader never approves their own)."""
    return _has(user, HANDLE_CLINICAL_NOTES)


def can_decide_note(user: User, note: Any) -> bool:
    """Approve or reject a note: a compliance officer who did not upload it."""
    return can_handle_clinical_notes(user) and note.uploaded_by_id != user.id


def can_view_audit_trail(user: User) -> bool:
    return _has(user, VIEW_AUDIT_TRAIL)


def can_manage_users(user: User) -> bool:
    return _has(user, MANAGE_USERS)


# --- Helpers for selectors, views and templates ----------------------------------------------


def channels_where(rule: Callable[[User, str], bool], user: User) -> list[str]:
    """The channels, in their own order, on which `rule(user, channel)` holds."""
    return [channel for channel in CHANNELS if rule(user, channel)]


def on_any_channel(rule: Callable[[User, str], bool]) -> Callable[[User], bool]:
    """A user rule from a channel rule: true where it holds on some channel."""
    return lambda user: any(rule(user, channel) for channel in CHANNELS)


def allowed(rule: Callable[[User], bool], message: str = "") -> Callable:
    """A view decorator: PermissionDenied (403) unless `rule(request.user)`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> object:
            if not rule(request.user):
                raise PermissionDenied(message or "Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def permissions(request: HttpRequest) -> dict:
    """Template context: `can.<rule>` for the page's conditional links and lists."""
    user = getattr(request, "user", None)
    can = {
        "draft_posts": can_draft_posts(user),
        "review_posts": can_review_posts(user),
        "approve_clinical_posts": can_approve_clinical_posts(user),
        "read_posts": can_read_posts(user),
        "see_unpublished_posts": can_see_unpublished_posts(user),
        "request_drafts": on_any_channel(can_request_drafts)(user),
        "review_drafts": on_any_channel(can_review_drafts)(user),
        "manage_general_models": can_manage_models(user, GENERAL),
        "manage_clinical_models": can_manage_models(user, CLINICAL),
        "handle_clinical_notes": can_handle_clinical_notes(user),
        "view_audit_trail": can_view_audit_trail(user),
        "manage_users": can_manage_users(user),
    }
    return {"can": can}
