"""HIPAA Safe Harbor de-identification engine: plain Python, no Django.

spans = find_spans(note)                      # raises DeidTimeout past the time limit
out = redact(note, spans, seed=note_id)       # consistent surrogates, dates shifted
suspects = find_suspects(note, spans)         # words let go, for the reviewer to check
"""

from .engine import find_spans
from .redact import Redacted, date_shift_days, redact
from .spans import ENGINE_VERSION, LABELS, DeidTimeout, Span
from .suspects import REASONS, Suspect, find_suspects

__all__ = [
    "ENGINE_VERSION",
    "LABELS",
    "REASONS",
    "DeidTimeout",
    "Redacted",
    "Span",
    "Suspect",
    "date_shift_days",
    "find_spans",
    "find_suspects",
    "redact",
]
