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
