from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from blogllm.clientip import client_ip
from blogllm.crypto import decrypt_text, encrypt_text


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """Sign-in rate limits per client, behind proxies too (blogllm.clientip)."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # A closed system that may hold clinical material: admins create accounts.
        return False


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery seeds are encrypted at rest with FIELD_ENCRYPTION_KEY."""

    def encrypt(self, text: str) -> str:
        return encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_text(encrypted_text)
