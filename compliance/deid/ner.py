"""Layer 4 (optional): spaCy named entities, when spaCy and an English model are installed."""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

from .spans import Span

_LABELS = {"PERSON": "NAME", "GPE": "CITY", "LOC": "LOCATION", "ORG": "ORGANIZATION",
           "FAC": "LOCATION"}  # fmt: skip
_MODELS = ("en_core_web_sm", "en_core_web_md", "en_core_web_lg", "en_core_web_trf")


@cache
def _model() -> Any | None:
    if importlib.util.find_spec("spacy") is None:
        return None
    import spacy

    for name in _MODELS:
        if importlib.util.find_spec(name) is not None:
            return spacy.load(name, disable=["lemmatizer"])
    return None


def available() -> bool:
    return _model() is not None


def find_entities(text: str) -> list[Span]:
    nlp = _model()
    if nlp is None:
        return []
    return [
        Span(ent.start_char, ent.end_char, _LABELS[ent.label_], "ner", 0.5)
        for ent in nlp(text).ents
        if ent.label_ in _LABELS
    ]
