"""HIPAA Safe Harbor de-identification engine: plain Python, no Django.

spans = find_spans(note)                      # raises DeidTimeout past the time limit
out = redact(note, spans, seed=note_id)       # consistent surrogates, dates shifted
"""

from .engine import find_spans
from .redact import Redacted, date_shift_days, redact
from .spans import ENGINE_VERSION, LABELS, DeidTimeout, Span

__all__ = [
    "ENGINE_VERSION",
    "LABELS",
    "DeidTimeout",
    "Redacted",
    "Span",
    "date_shift_days",
    "find_spans",
    "redact",
]
