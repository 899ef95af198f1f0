"""The guard: may this draft go to the editor as it is?

Findings (generation.types.Finding), each {kind, label, start, end, text, detail}:
- phi: the de-identification engine found protected health information;
- overlap: a passage shares word 8-grams with a clinical note (its raw or de-identified text);
- banned_topic: a word or phrase from BLOGLLM_BANNED_TOPICS;
- toxic: a sentence that reads as abusive or profane: scored one by one by alt-profanity-check
  (a linear model that ships inside the package: no download, CPU, ~1 ms a sentence), or one
  holding a word of the blocked list editors keep on the dashboard (operators have
  BLOGLLM_BANNED_TOPICS, above);
- avoid_word: a word the author's voice guide avoids (advice, not blocking);
- length / structure: far from the asked length, or no text at all;
- grounding: few of the final draft's sentences are supported by a source (advice, added once
  the draft is final: see generation/services/execute.py);
- unsupported: a sentence of the final draft states a number, date or name that neither the
  brief nor any source does (advice, added with grounding: see generation/claims.py).
On the clinical channel a finding's `text` is left out: the trace must hold no PHI.
"""

import re

from django.conf import settings

from compliance.scanning import scan_output
from generation.types import Finding, FindingKind, blocking

__all__ = ["blocking", "check_draft", "grounding_finding"]
# What a PHI finding says it found, by the engine's label (compliance.deid.LABELS).
PHI_KINDS = {
    "NAME": "a person's name",
    "PROFESSION": "someone's job",
    "HOSPITAL": "a hospital",
    "ORGANIZATION": "an organisation",
    "STREET": "a street address",
    "CITY": "a town",
    "ZIP": "a ZIP code",
    "LOCATION": "a place",
    "AGE": "an age over 89",
    "DATE": "a date",
    "PHONE": "a phone number",
    "FAX": "a fax number",
    "EMAIL": "an e-mail address",
    "URL": "a web address",
    "IP": "an IP address",
    "USERNAME": "a user name",
    "SSN": "a social security number",
    "MRN": "a medical record number",
    "HEALTH_PLAN": "a health plan number",
    "ACCOUNT": "an account number",
    "LICENSE": "a licence number",
    "VEHICLE": "a vehicle identifier",
    "DEVICE": "a device identifier",
    "BIOMETRIC": "a biometric identifier",
    "PHOTO": "a photograph",
    "ID": "an identifying number",
}
NAMES_AND_PLACES = {"NAME", "CITY", "LOCATION", "HOSPITAL", "ORGANIZATION", "PROFESSION"}
_YEAR_ALONE = re.compile(r"(?:19|20)\d{2}")
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
    phi = report.phi if channel == "clinical" else _public_phi(report.phi)
    for hit in phi:
        detail = f"Looks like {PHI_KINDS.get(hit.label, 'an identifier')} ({hit.label})."
        findings.append(_finding("phi", detail, hit.label, hit.start, hit.end, hit.text))
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
    findings += _toxic(text)
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


def _toxic(text: str) -> list[Finding]:
    """Each sentence the classifier scores at BLOGLLM_GUARD_TOXICITY_THRESHOLD or more, or that
    holds a blocked word; the targeted revise then writes that sentence again."""
    from profanity_check import predict_prob

    from generation.cleaning import sentence_spans
    from generation.services.blocked import blocked_words

    spans = sentence_spans(text)
    if not spans:
        return []
    scores = predict_prob([text[start:end] for start, end in spans])
    blocked = [re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in blocked_words()]
    findings = []
    for (start, end), score in zip(spans, scores, strict=True):
        sentence = text[start:end]
        word = next((p.pattern for p in blocked if p.search(sentence)), None)
        if word is not None:
            detail = "Holds a word on the blocked list."
        elif score >= settings.GUARD_TOXICITY_THRESHOLD:
            detail = f"Reads as abusive or profane ({score:.0%} by the toxicity check)."
        else:
            continue
        findings.append(
            _finding("toxic", detail, "blocked" if word else "classifier", start, end, sentence)
        )
    return findings


def _public_phi(hits: list) -> list:
    """The PHI hits that matter in a post of the general channel, the author's public blog.

    Dropped: a "name" that is an everyday lower-case word ('said'), a year alone ('in 2019'),
    and names and places the author's own published posts already use ('Emily', 'Bales'). Kept:
    every identifier, and any name the public posts have never mentioned."""
    from compliance.deid import lexicon
    from posts.selectors import published_mentions

    def ordinary(hit) -> bool:
        if hit.label == "DATE":
            return bool(_YEAR_ALONE.fullmatch(hit.text))
        return hit.text.islower() and all(w in lexicon.english_words() for w in hit.text.split())

    hits = [h for h in hits if not ordinary(h)]
    names = [h.text for h in hits if h.label in NAMES_AND_PLACES]
    known = {w.lower() for w in published_mentions(names)}
    return [h for h in hits if not (h.label in NAMES_AND_PLACES and h.text.lower() in known)]


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


def grounding_finding(score: float | None, minimum: float) -> Finding | None:
    """Advice when few of the final draft's sentences are supported by a source."""
    if score is None or score >= minimum:
        return None
    return _finding(
        "grounding",
        f"Only {score:.0%} of the sentences are supported by the sources "
        f"(below {minimum:.0%}): check its facts against them.",
    )
