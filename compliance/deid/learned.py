"""Layer 5: a token classifier (a linear-chain CRF) for names and places the rules cannot cue.

Patterns and dictionaries hit a ceiling on free text: "Tomas wishes to make pt DNR", a staff list,
a bare surname in a sentence. A CRF (python-crfsuite) sees each token's word, shape, affixes,
dictionary hits (lexicon.py) and the same for two neighbours each side, and tags NAME, LOCATION
or O. It is trained only on text the project writes (bench/deid_corpus.py and
bench/deid_shorthand.py, by `manage.py deid_train`), so what ships carries no third-party data.
The model is a small committed file beside this module; without it (or without python-crfsuite)
the layer is off and says so once in the log.

Off by default (BLOGLLM_DEID_LEARNED=1 turns it on): on the real PhysioNet dev notes it now
finds no PHI token the rules miss (recall 0.9869 with and without it) and adds 0.12 points of
over-redaction (2.96% → 3.08%, past the ≤ 3% target) and a fifth of the engine's time. It did
add recall before the cue layer grew (0.9826 → 0.9835). `python -m bench deid` measures it
beside the rules on every run; it becomes the default when it pays.

Its spans are added to the rules' (the union only adds recall), and only where the tagger is
sure and the word could be a name: a token's marginal probability must reach THRESHOLD, and the
word must be one no dictionary places, or a name that is not also an everyday word. (Trained on
our own text, it was quick to call drug names and single letters names on real notes.)
"""

from __future__ import annotations

import bisect
import logging
import os
import re
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path

from . import lexicon as lx
from .context import caps_note
from .spans import Span

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).parent / "model" / "deid-crf.crfsuite"
LABELS = ("NAME", "LOCATION")
THRESHOLD = 0.97  # a token's marginal probability before it becomes a span
TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+|[^\w\s]")
_TITLES = lx.section("titles")
_RELATIONS = lx.section("relations")
_CARE_UNITS = lx.section("care_units")


def tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in TOKEN_RE.finditer(text)]


def _shape(word: str) -> str:
    """'Smith' → 'Xx', 'SMITH' → 'X', 'jsmith2' → 'xd', '12/3' → 'd'."""
    out: list[str] = []
    for ch in word:
        kind = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)[:4]


@lru_cache(maxsize=65536)
def _word_features(word: str) -> dict[str, float | str]:
    """A word's own features (cached: notes repeat their words; callers must not modify)."""
    fold = lx.fold(word)
    alpha = word.isalpha()
    feats: dict[str, float | str] = {
        "w": fold if len(fold) < 20 else "<long>",
        "shape": _shape(word),
        "suf3": fold[-3:],
        "pre3": fold[:3],
    }
    if alpha:
        flags = {
            "given": fold in lx.given_names(),
            "family": fold in lx.family_names(),
            "english": fold in lx.english_words(),
            "common": fold in lx.common_words(),
            "safe": fold in lx.safelist(),
            "unit": fold in _CARE_UNITS,
            "title": fold in _TITLES,
            "relation": fold in _RELATIONS,
            "unknown": lx.unknown_word(fold),
            "city": fold in lx.cities(),
        }
        feats.update({name: 1.0 for name, on in flags.items() if on})
    return feats


def features(
    text: str, toks: Sequence[tuple[int, int, str]], caps: bool | None = None
) -> list[dict[str, float | str]]:
    """One feature dict per token: its own, and its neighbours' under '-2:', '-1:', '+1:', '+2:'.
    `caps`: whether the whole note is in capitals (worked out from `text` when not given)."""
    if caps is None:
        caps = caps_note(text)
    own = [_word_features(w) for _, _, w in toks]
    out: list[dict[str, float | str]] = []
    for i, (start, _end, word) in enumerate(toks):
        f: dict[str, float | str] = {"bias": 1.0, **own[i]}
        if caps:
            f["caps_note"] = 1.0
        line_start = i == 0 or "\n" in text[toks[i - 1][1] : start]
        if line_start:
            f["line_start"] = 1.0
        for k in (-2, -1, 1, 2):
            j = i + k
            if not 0 <= j < len(toks):
                f[f"{k}:edge"] = 1.0
                continue
            for name, value in own[j].items():
                if name in ("pre3", "suf3"):
                    continue
                f[f"{k}:{name}"] = value
        if i + 1 < len(toks):
            f["+1:gap_nl"] = float("\n" in text[toks[i][1] : toks[i + 1][0]])
        f["len"] = str(min(len(word), 8))
        out.append(f)
    return out


def tag_sequence(text: str, spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """Gold tags for training: NAME, LOCATION or O per token (a token is tagged when a gold span
    covers it)."""
    toks = tokens(text)
    tags = ["O"] * len(toks)
    for start, end, label in spans:
        if label not in LABELS:
            continue
        for i, (a, b, _) in enumerate(toks):
            if a >= start and b <= end:
                tags[i] = label
    return tags


def train(
    examples: Iterable[tuple[str, list[tuple[int, int, str]]]],
    path: Path,
    *,
    max_iterations: int = 120,
) -> dict:
    """Train a CRF on (text, [(start, end, label)]) examples and save it to `path`."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    count = 0
    for text, spans in examples:
        toks = tokens(text)
        if not toks:
            continue
        trainer.append(features(text, toks), tag_sequence(text, spans))
        count += 1
    trainer.set_params(
        {
            "c1": 0.2,
            "c2": 0.01,
            "max_iterations": max_iterations,
            "feature.minfreq": 2,
            "feature.possible_transitions": True,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(path))
    _tagger.cache_clear()
    return {"examples": count, "path": str(path), "bytes": path.stat().st_size}


@cache
def _tagger(path: Path = MODEL_PATH) -> object | None:
    try:
        import pycrfsuite
    except ImportError:
        logger.warning("python-crfsuite is not installed: the learned deid layer is off")
        return None
    if not path.exists():
        logger.warning("No de-identification model at %s: the learned layer is off", path)
        return None
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    return tagger


@lru_cache(maxsize=65536)
def _could_be_phi(word: str) -> bool:
    fold = lx.fold(word)
    if len(fold) < 3 or not word.isalpha() or _DRUG_ENDING.search(fold):
        return False
    if lx.unknown_word(fold):
        return True
    named = fold in lx.given_names() or fold in lx.family_names()
    return named and fold not in lx.english_words() and fold not in lx.common_words()


_DRUG_ENDING = re.compile(
    r"(?:ine|ol|pril|sartan|olol|azole|mycin|cillin|floxacin|statin|prazole|done|pam|lam|ide|ate"
    r"|one|ase|tide|mab|nib|vir|cef\w*|zosin|dipine|parin|xaban)$"
)


def enabled() -> bool:
    """BLOGLLM_DEID_LEARNED=1: the engine adds this layer unless a caller says otherwise."""
    return os.environ.get("BLOGLLM_DEID_LEARNED", "0").strip().lower() in ("1", "true", "yes")


def available(path: Path = MODEL_PATH) -> bool:
    return _tagger(path) is not None


def find_learned(text: str, *, found: Sequence[Span] = (), path: Path = MODEL_PATH) -> list[Span]:
    """NAME and LOCATION spans where the tagger is sure (see THRESHOLD), on the lines where it
    could add something: a word that could be PHI and that no span in `found` covers yet. Most
    lines of a note have none, so most are never tagged (the layer's cost is its features)."""
    tagger = _tagger(path)
    if tagger is None:
        return []
    covered = sorted((s.start, s.end) for s in found)
    caps = caps_note(text)
    spans: list[Span] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        toks = [(a + offset, b + offset, w) for a, b, w in tokens(line)]
        offset += len(line)
        open_words = [t for t in toks if _could_be_phi(t[2]) and not _inside(t, covered)]
        if not open_words:
            continue
        tagger.set(features(text, toks, caps))
        tagger.tag()
        for i, (start, end, word) in enumerate(toks):
            if not _could_be_phi(word):
                continue
            for label in LABELS:
                if tagger.marginal(label, i) >= THRESHOLD:
                    spans.append(Span(start, end, label, "learned", 0.6))
                    break
    return spans


def _inside(token: tuple[int, int, str], covered: list[tuple[int, int]]) -> bool:
    start, end, _ = token
    i = bisect.bisect_right(covered, (start, float("inf"))) - 1
    return i >= 0 and covered[i][0] <= start and end <= covered[i][1]
