"""Output scanning: is a generated text safe to save as a draft?

Two checks. PHI: the de-identification engine's spans in the text. Memorisation: passages that
share word 8-grams with a clinical note, either its raw text (through `raw_shingles`, kept after
the raw text is purged) or its de-identified text (`deid_shingles`). The shingles are keyed
64-bit BLAKE2b hashes (the key derives from SECRET_KEY), so the stored hashes cannot be turned
back into words by hashing guesses without the key. Rotating SECRET_KEY makes the stored hashes
stale: re-compute them (raw ones only while notes are pending) if you ever do.

One GIN-indexed query (`raw_shingles && ARRAY[…] OR deid_shingles && ARRAY[…]`) finds the notes
and the shared hashes; a 1,000-word text is about a thousand hashes.
"""

import functools
import hashlib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

SHINGLE_WORDS = 8
WORD = re.compile(r"\w+")


@functools.cache
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"blogllm:note-shingles:" + secret.encode()).digest()


def _hash(words: list[str], key: bytes) -> int:
    digest = hashlib.blake2b(" ".join(words).encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)  # fits PostgreSQL's signed bigint


def shingle_windows(text: str) -> list[tuple[int, int, int]]:
    """(hash, start, end) of every lower-cased word 8-gram of `text`, in order, with the
    character offsets of its first and last word."""
    words = [(m.start(), m.end(), m.group().lower()) for m in WORD.finditer(text)]
    key = _key(settings.SECRET_KEY)
    return [
        (
            _hash([w for _, _, w in words[i : i + SHINGLE_WORDS]], key),
            words[i][0],
            words[i + SHINGLE_WORDS - 1][1],
        )
        for i in range(len(words) - SHINGLE_WORDS + 1)
    ]


def shingles(text: str) -> list[int]:
    """The distinct keyed hashes of `text`'s word 8-grams, sorted (for an ArrayField)."""
    return sorted({h for h, _, _ in shingle_windows(text)})


@dataclass(frozen=True)
class PhiHit:
    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class Overlap:
    start: int  # a passage of the scanned text
    end: int
    text: str
    note_id: int
    source: str  # "raw" (the note's original words) or "deid" (its de-identified text)
    shingles: int  # how many shared 8-grams the passage holds


@dataclass(frozen=True)
class ScanReport:
    phi: list[PhiHit] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)
    # Set when the PHI check could not finish: the text is then not ok (fail closed).
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.phi and not self.overlaps and not self.error


def scan_output(text: str, *, time_limit: float | None = 10.0) -> ScanReport:
    """Scan a generated text for PHI and for verbatim overlap with clinical notes."""
    from compliance import deid

    phi: list[PhiHit] = []
    error = ""
    try:
        spans = deid.find_spans(text, time_limit=time_limit)
    except deid.DeidTimeout:
        error = "The PHI scan ran past its time limit; the text is treated as unsafe."
    else:
        phi = [PhiHit(s.start, s.end, s.label, text[s.start : s.end]) for s in spans]
    return ScanReport(phi=phi, overlaps=find_overlaps(text), error=error)


def find_overlaps(text: str) -> list[Overlap]:
    """Passages of `text` sharing word 8-grams with any clinical note, per note and source."""
    windows = shingle_windows(text)
    if not windows:
        return []
    wanted = sorted({h for h, _, _ in windows})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id,
                   ARRAY(SELECT unnest(raw_shingles) INTERSECT SELECT unnest(%(h)s::bigint[])),
                   ARRAY(SELECT unnest(deid_shingles) INTERSECT SELECT unnest(%(h)s::bigint[]))
            FROM compliance_clinicalnote
            WHERE raw_shingles && %(h)s::bigint[] OR deid_shingles && %(h)s::bigint[]
            ORDER BY id
            """,
            {"h": wanted},
        )
        rows = cursor.fetchall()
    overlaps: list[Overlap] = []
    for note_id, raw_hits, deid_hits in rows:
        for source, hits in (("raw", raw_hits), ("deid", deid_hits)):
            if hits:
                overlaps += _passages(text, windows, set(hits), note_id=note_id, source=source)
    return overlaps


def _passages(
    text: str, windows: list[tuple[int, int, int]], hits: set[int], *, note_id: int, source: str
) -> list[Overlap]:
    """Merge the matching 8-gram windows that overlap or touch into passages."""
    found: list[list[int]] = []  # [start, end, count]
    for value, start, end in windows:
        if value not in hits:
            continue
        if found and start <= found[-1][1]:
            found[-1][1] = max(found[-1][1], end)
            found[-1][2] += 1
        else:
            found.append([start, end, 1])
    return [
        Overlap(start, end, text[start:end], note_id, source, count) for start, end, count in found
    ]
