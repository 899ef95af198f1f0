"""On the clinical channel every text a run stores is de-identified first: the brief at the start,
each step's input and output, the findings, the draft and even a failure's traceback."""

from collections.abc import Callable
from typing import Any

from posts.models import Post


def deidentified(text: str) -> str:
    """`text` with every PHI span the engine finds replaced by its [LABEL]."""
    from compliance import deid

    if not text:
        return text
    return deid.redact(text, deid.find_spans(text), seed=0, mode="placeholder").text


def sanitizer(channel: str) -> Callable[[Any], Any]:
    """Identity on the general channel; on the clinical channel, de-identify every string in a
    value (dicts and lists walked), so no stored trace holds text that skipped de-identification."""
    if channel != Post.Channel.CLINICAL:
        return lambda value: value

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return deidentified(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean
