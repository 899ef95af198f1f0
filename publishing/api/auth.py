"""API key authentication and the scope permissions.

A key goes in `Authorization: Bearer bllm_…`. DRF then sets `request.user` to the key's owner
and `request.auth` to the ApiKey. A request with no key is anonymous; one with a bad, revoked or
expired key is refused with 401, never treated as anonymous.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from publishing.models import ApiKey
from publishing.services.keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        kind, _, secret = header.partition(" ")
        if kind.lower() != self.keyword.lower() or not secret.strip():
            raise exceptions.AuthenticationFailed("Send the key as `Authorization: Bearer bllm_…`.")
        key = api_key_authenticate(secret.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown, revoked or expired.")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_requirement(self, auto_schema: object) -> list[dict]:
        # Reading may be open to all (BLOGLLM_API_PUBLIC): then the key is optional ({}).
        permissions_ = auto_schema.view.get_permissions()  # type: ignore[attr-defined]
        optional = settings.API_PUBLIC and any(isinstance(p, ReadPosts) for p in permissions_)
        return [{self.name: []}, {}] if optional else [{self.name: []}]

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`bllm_…`) made by an admin, with its scopes.",
        }


class _Scoped(permissions.BasePermission):
    scope = ""

    def _has_scope(self, request: Request) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated(f"This needs an API key with the {self.scope} scope.")
        if not key.has_scope(self.scope):
            self.message = f"This API key lacks the {self.scope} scope."
            return False
        return True


class ReadPosts(_Scoped):
    """Published posts: open to all when BLOGLLM_API_PUBLIC is on, else a `posts:read` key.
    A key sent anyway must be valid (authentication refuses a bad one first)."""

    scope = ApiKey.Scope.POSTS_READ

    def has_permission(self, request: Request, view: object) -> bool:
        if settings.API_PUBLIC and request.auth is None:
            return True
        return self._has_scope(request)


class WriteDrafts(_Scoped):
    scope = ApiKey.Scope.DRAFTS_WRITE

    def has_permission(self, request: Request, view: object) -> bool:
        return self._has_scope(request)
