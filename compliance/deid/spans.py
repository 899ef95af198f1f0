"""Span type, labels, the time limit and the merge rule shared by every layer."""

from __future__ import annotations

import time
from dataclasses import dataclass

ENGINE_VERSION = "1.0"

LABELS: tuple[str, ...] = (
    "NAME",
    "PROFESSION",
    "HOSPITAL",
    "ORGANIZATION",
    "STREET",
    "CITY",
    "ZIP",
    "LOCATION",
    "AGE",
    "DATE",
    "PHONE",
    "FAX",
    "EMAIL",
    "URL",
    "IP",
    "USERNAME",
    "SSN",
    "MRN",
    "HEALTH_PLAN",
    "ACCOUNT",
    "LICENSE",
    "VEHICLE",
    "DEVICE",
    "BIOMETRIC",
    "PHOTO",
    "ID",
)

DETECTORS = ("pattern", "dictionary", "context", "ner", "learned", "reviewer")

# When spans overlap, the label earlier here wins: a checked pattern beats a dictionary guess, and
# a specific identifier beats the catch-all ID.
_PRIORITY = (
    "SSN",
    "MRN",
    "HEALTH_PLAN",
    "ACCOUNT",
    "LICENSE",
    "VEHICLE",
    "DEVICE",
    "BIOMETRIC",
    "FAX",
    "PHONE",
    "EMAIL",
    "URL",
    "IP",
    "USERNAME",
    "PHOTO",
    "AGE",
    "DATE",
    "STREET",
    "ZIP",
    "HOSPITAL",
    "ORGANIZATION",
    "LOCATION",
    "CITY",
    "PROFESSION",
    "NAME",
    "ID",
)
_RANK = {label: i for i, label in enumerate(_PRIORITY)}


class DeidTimeout(Exception):
    """The note ran past its time limit: the caller withholds it rather than publish it."""


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str
    detector: str = "pattern"
    confidence: float = 1.0


class Deadline:
    """Checked between layers and inside long loops; `None` means no limit."""

    __slots__ = ("_at",)

    def __init__(self, seconds: float | None) -> None:
        self._at = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self._at is not None and time.monotonic() > self._at:
            raise DeidTimeout("de-identification ran past its time limit")


# A word can be both a given name and a town ("Jackson"): the surer detector decides.
_PEERS = {"NAME": "CITY", "CITY": "NAME"}


def _preference(span: Span) -> tuple[float, float]:
    rank = _RANK.get(span.label, 99)
    if span.label in _PEERS:
        rank = min(rank, _RANK[_PEERS[span.label]])
        return (rank, -span.confidence - (0.01 if span.label == "NAME" else 0.0))
    return (rank, -span.confidence)


def merge_spans(spans: list[Span]) -> list[Span]:
    """Sort and merge overlapping spans; the merged span takes the most specific label."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= span.start:
            continue
        if out and span.start < out[-1].end:
            last = out[-1]
            best = min(last, span, key=_preference)
            out[-1] = Span(
                last.start,
                max(last.end, span.end),
                best.label,
                best.detector,
                max(last.confidence, span.confidence),
            )
        else:
            out.append(span)
    return out
