"""The navigation bar: one list of destinations, each shown to the users whose rules allow it
(accounts/permissions.py).

Each app adds its pages here as it grows; the template draws whatever the user may open.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from accounts import permissions as can


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    allowed: Callable[[object], bool] | None = None  # None: every signed-in user
    staff_only: bool = False


NAV_ITEMS = [
    NavItem("Dashboard", "home"),
    NavItem("Posts", "posts:list", allowed=can.can_read_posts),
    NavItem("Write with AI", "generation:new", allowed=can.on_any_channel(can.can_request_drafts)),
    NavItem("Search", "posts:search", allowed=can.can_read_posts),
    NavItem("Import", "posts:import", allowed=can.can_draft_posts),
    NavItem("Corpus", "posts:corpus", allowed=can.can_review_posts),
    NavItem("Training", "training:runs", allowed=can.on_any_channel(can.can_manage_models)),
    NavItem("Clinical notes", "compliance:queue", allowed=can.can_handle_clinical_notes),
    NavItem("Audit trail", "audit:list", allowed=can.can_view_audit_trail),
    NavItem("Users & roles", "admin:accounts_user_changelist", allowed=can.can_manage_users),
    NavItem("API & webhooks", "publishing:webhooks", allowed=can.can_manage_users),
    NavItem("Admin", "admin:index", staff_only=True),
    NavItem("Security", "mfa_index"),
]


def nav_for(user: object) -> list[dict]:
    items = []
    for item in NAV_ITEMS:
        if item.allowed is not None and not item.allowed(user):
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
