from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.roles import MFA_REQUIRED_HINT, requires_mfa


class RequireMFAMiddleware:
    """Send a compliance officer or admin without TOTP to set it up before anything else.

    Only the MFA set-up pages (and the password re-entry allauth asks for before them), logout,
    health probes and static files stay open to them until they do.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not self._is_exempt(request.path)
            and requires_mfa(user)
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            messages.warning(request, f"{MFA_REQUIRED_HINT} Set up an authenticator app to go on.")
            target = reverse("mfa_activate_totp")
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": target})
            return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _is_exempt(path: str) -> bool:
        open_prefixes = (
            reverse("mfa_index"),
            reverse("account_reauthenticate"),
            reverse("account_logout"),
            "/static/",
            "/healthz",
            "/readyz",
        )
        return path.startswith(open_prefixes)
