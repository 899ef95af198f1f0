"""Symmetric encryption of small secrets at rest with FIELD_ENCRYPTION_KEY (Fernet).

The first key encrypts; every listed key decrypts, so a key is rotated by putting the new one
first and re-encrypting with `rotate()`.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(ValueError):
    """The ciphertext was not made with any of the configured FIELD_ENCRYPTION_KEY keys."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(text: str) -> str:
    return _current().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No FIELD_ENCRYPTION_KEY key decrypts this value.") from None


def rotate(token: str) -> str:
    """Re-encrypt `token` with the first (newest) key."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No FIELD_ENCRYPTION_KEY key decrypts this value.") from None
