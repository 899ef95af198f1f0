"""The API key format: `bllm_` + 32 random base62 characters + a 6-character CRC32 checksum.

The prefix and the checksum let secret scanners find leaked keys (and reject typos without a
database lookup), as GitHub's tokens do. Only an HMAC-SHA256 digest keyed by a server secret is
stored. Plain Python: no Django.
"""

import hashlib
import hmac
import secrets
import string
import zlib

PREFIX = "bllm_"
ALPHABET = string.digits + string.ascii_letters  # base62
RANDOM_LENGTH = 32  # 32 base62 characters ≈ 190 bits
CHECKSUM_LENGTH = 6
DISPLAY_LENGTH = len(PREFIX) + 7  # what lists show: "bllm_" and the first 7 characters


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{body}{checksum(body)}"


def well_formed(key: str) -> bool:
    """Right prefix, length, alphabet and checksum."""
    if not key.startswith(PREFIX) or len(key) != len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH:
        return False
    rest = key[len(PREFIX) :]
    if any(c not in ALPHABET for c in rest):
        return False
    body, check = rest[:RANDOM_LENGTH], rest[RANDOM_LENGTH:]
    return hmac.compare_digest(checksum(body), check)


def digest(key: str, *, secret: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]
