"""The guard: may this draft go to the editor as it is?

Findings (generation.types.Finding), each {kind, label, start, end, text, detail}:
- phi: the de-identification engine found protected health information;
- overlap: a passage shares word 8-grams with a clinical note (its raw or de-identified text);
- banned_topic: a word or phrase from BLOGLLM_BANNED_TOPICS;
- avoid_word: a word the author's voice guide avoids (advice, not blocking);
- length / structure: far from the asked length, or no text at all.
On the clinical channel a finding's `text` is left out: the trace must hold no PHI.
"""

import re

from django.conf import settings

from compliance.scanning import scan_output
from generation.types import Finding, FindingKind

ADVICE = {"length", "avoid_word"}
MIN_SHARE_OF_LENGTH = 0.25  # a draft under a quarter of the asked length is flagged


def check_draft(
    text: str, *, channel: str, length: int | None = None, avoid: list[str] = ()
) -> list[Finding]:
    findings: list[Finding] = []
    if not text.strip():
        return [_finding("structure", "The draft is empty.")]
    report = scan_output(text)
    if report.error:
        findings.append(_finding("phi", report.error))
    for hit in report.phi:
        findings.append(
            _finding("phi", f"Looks like {hit.label}.", hit.label, hit.start, hit.end, hit.text)
        )
    for overlap in report.overlaps:
        findings.append(
            _finding(
                "overlap",
                f"{overlap.shingles} word sequences match a clinical note word for word.",
                overlap.source,
                overlap.start,
                overlap.end,
                overlap.text,
            )
        )
    for topic in settings.BANNED_TOPICS:
        for match in re.finditer(rf"\b{re.escape(topic)}\b", text, flags=re.IGNORECASE):
            findings.append(
                _finding("banned_topic", f"Mentions “{topic}”.", topic, *match.span(), match[0])
            )
    for word in avoid:  # the author's voice guide: advice, like the length
        for match in re.finditer(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE):
            findings.append(
                _finding(
                    "avoid_word", f"The voice guide avoids “{word}”.", word, *match.span(), match[0]
                )
            )
    words = len(text.split())
    if length and words < MIN_SHARE_OF_LENGTH * length:
        findings.append(_finding("length", f"{words} words, far from the {length} asked for."))
    if channel == "clinical":
        findings = [{**f, "text": ""} for f in findings]
    return findings


def _finding(
    kind: FindingKind, detail: str, label: str = "", start: int = 0, end: int = 0, text: str = ""
) -> Finding:
    return {
        "kind": kind,
        "label": label,
        "start": start,
        "end": end,
        "text": text,
        "detail": detail,
    }


def blocking(findings: list[Finding]) -> list[Finding]:
    """Findings that must be fixed before a draft goes out as clean (the rest is advice)."""
    return [f for f in findings if f["kind"] not in ADVICE]
