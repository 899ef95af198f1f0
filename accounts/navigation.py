"""The navigation bar: one list of destinations, each shown to the users whose permissions allow it.

Each app adds its pages here as it grows; the template draws whatever the user may open.
"""

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str | tuple[str, ...] | None = None  # None: every signed-in user; a tuple: any
    staff_only: bool = False


POST_READERS = ("accounts.draft_posts", "accounts.review_posts", "accounts.approve_clinical_posts")

NAV_ITEMS = [
    NavItem("Dashboard", "home"),
    NavItem("Posts", "posts:list", permission=POST_READERS),
    NavItem(
        "Write with AI",
        "generation:new",
        permission=("accounts.request_ai_drafts", "accounts.handle_clinical_notes"),
    ),
    NavItem("Search", "posts:search", permission=POST_READERS),
    NavItem("Import", "posts:import", permission="accounts.draft_posts"),
    NavItem("Corpus", "posts:corpus", permission="accounts.review_posts"),
    NavItem(
        "Training",
        "training:runs",
        permission=("accounts.manage_general_models", "accounts.manage_clinical_models"),
    ),
    NavItem("Clinical notes", "compliance:queue", permission="accounts.handle_clinical_notes"),
    NavItem("Audit trail", "audit:list", permission="accounts.view_audit_trail"),
    NavItem("Users & roles", "admin:accounts_user_changelist", permission="accounts.manage_users"),
    NavItem("Admin", "admin:index", staff_only=True),
    NavItem("Security", "mfa_index"),
]


def nav_for(user: object) -> list[dict]:
    items = []
    for item in NAV_ITEMS:
        wanted = (item.permission,) if isinstance(item.permission, str) else item.permission
        if wanted and not any(user.has_perm(p) for p in wanted):
            continue
        if item.staff_only and not user.is_staff:
            continue
        items.append({"label": item.label, "url": reverse(item.url_name)})
    return items


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {"nav_items": nav_for(user)}
