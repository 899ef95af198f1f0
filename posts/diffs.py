"""Word-level diffs of post text as safe HTML (<del>/<ins>), for review and conflict screens.
Plain Python (no Django)."""

import difflib
import html
import re
from dataclasses import dataclass

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class DiffStats:
    inserted_words: int
    deleted_words: int

    @property
    def changed(self) -> bool:
        return bool(self.inserted_words or self.deleted_words)


def diff_html(old: str, new: str) -> tuple[str, DiffStats]:
    """The new text with deletions in <del> and insertions in <ins>; everything escaped."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    out: list[str] = []
    inserted = deleted = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(html.escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(''.join(a[i1:i2]))}</del>")
            deleted += sum(1 for t in a[i1:i2] if not t.isspace())
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(''.join(b[j1:j2]))}</ins>")
            inserted += sum(1 for t in b[j1:j2] if not t.isspace())
    return "".join(out), DiffStats(inserted, deleted)


@dataclass(frozen=True)
class Hunk:
    """One piece of a diff: kept text (`changed` False, old == new) or a change the editor takes
    (new) or leaves (old). `id` numbers the changes from 1; kept pieces have id 0."""

    id: int
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.id > 0

    def to_dict(self) -> dict:
        return {"id": self.id, "old": self.old, "new": self.new}


MERGE_GAP_WORDS = 1  # changes separated by at most one unchanged word become one hunk


def hunks(old: str, new: str) -> list[Hunk]:
    """`old` → `new` as kept pieces and changes, word by word. Two changes with only whitespace
    or a single word between them are one change, so a rewritten phrase reads as one decision."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    pieces: list[list] = []  # [kind, old, new], kind "equal" | "change"
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        kind = "equal" if op == "equal" else "change"
        pieces.append([kind, "".join(a[i1:i2]), "".join(b[j1:j2])])
    merged: list[list] = []
    for index, piece in enumerate(pieces):
        gap = (
            piece[0] == "equal"
            and 0 < index < len(pieces) - 1
            and len(piece[1].split()) <= MERGE_GAP_WORDS
        )
        if merged and merged[-1][0] == "change" and (piece[0] == "change" or gap):
            merged[-1][1] += piece[1]
            merged[-1][2] += piece[2]
        else:
            merged.append(list(piece))
    result, number = [], 0
    for kind, old_text, new_text in merged:
        if kind == "change":
            number += 1
        result.append(Hunk(number if kind == "change" else 0, old_text, new_text))
    return result


def hunks_apply(pieces: list[Hunk], accepted: set[int]) -> str:
    """The text with the accepted changes taken and the others left as they were."""
    return "".join(h.new if h.changed and h.id in accepted else h.old for h in pieces)
