"""Train/validation assignment that depends on nothing but the post's own key."""

import hashlib
from typing import Literal

Split = Literal["train", "validation"]


def split_for(key: str, validation_fraction: float = 0.1) -> Split:
    """Return "train" or "validation" from the first 8 bytes of sha256(key), read as a point
    in [0, 1).

    Adding or removing other posts never moves a key; raising the fraction only moves keys from
    train into validation, never back.
    """
    if not 0.0 <= validation_fraction <= 0.5:
        raise ValueError(
            f"validation_fraction must be between 0 and 0.5, not {validation_fraction}"
        )
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if point < validation_fraction else "train"
