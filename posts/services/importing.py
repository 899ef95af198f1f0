"""Turn parsed imports (posts.importers) into posts, with a report line per file or item.

For each item: a source already imported (same format and source id) is reported as a
duplicate and nothing is written; otherwise the text is cleaned (posts.corpus), an exact copy of
an existing post's text is a duplicate too, a near copy is imported but flagged (duplicate_of),
contact details are flagged for review, and the post gets its train/validation split. Each item
is written in its own transaction: one bad item never costs the others.
"""

import hashlib
import logging
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from posts import corpus
from posts.importers import ImportedPost, ImportSkip, iter_import
from posts.models import ImportJob, Post
from posts.services.editing import post_create

logger = logging.getLogger(__name__)
NEAR_DUPLICATE_THRESHOLD = 0.8
BANDS = 32


@dataclass(frozen=True)
class ReportLine:
    source: str
    outcome: str  # "imported" | "duplicate" | "skipped"
    detail: str
    post_id: int | None = None


def import_key(item: ImportedPost) -> str:
    return hashlib.sha256(f"{item.source_format}:{item.source_id}".encode()).hexdigest()


class NearDuplicateIndex:
    """MinHash signatures of the corpus, banded for locality-sensitive lookup.

    Kept compact, because it holds every post of the blog for a whole import: a signature as
    packed bytes, each band as one hashed int pointing at a post id (a list only when bands
    collide). About 6 KB a post, half of what tuples took (bench/bench_import.py).
    """

    def __init__(self) -> None:
        self.signatures: dict[int, bytes] = {}
        self.buckets: dict[int, int | list[int]] = {}

    @classmethod
    def of_corpus(cls) -> "NearDuplicateIndex":
        index = cls()
        for post_id, signature in Post.objects.exclude(minhash=None).values_list("id", "minhash"):
            index.add(post_id, tuple(signature))
        return index

    @staticmethod
    def _pack(signature: tuple[int, ...]) -> bytes:
        return np.asarray(signature, dtype=np.uint64).tobytes()

    @staticmethod
    def _bands(packed: bytes) -> Iterable[int]:
        width = max(8, len(packed) // BANDS // 8 * 8)
        for band in range(BANDS):
            # A band's rows and its number, hashed: a collision only adds a candidate to score.
            yield hash((band, packed[band * width : (band + 1) * width]))

    def add(self, post_id: int, signature: tuple[int, ...]) -> None:
        packed = self._pack(signature)
        self.signatures[post_id] = packed
        for key in self._bands(packed):
            held = self.buckets.get(key)
            if held is None:
                self.buckets[key] = post_id
            elif isinstance(held, int):
                self.buckets[key] = [held, post_id]
            else:
                held.append(post_id)

    def best_match(self, signature: tuple[int, ...]) -> tuple[int, float] | None:
        packed = self._pack(signature)
        candidates: set[int] = set()
        for key in self._bands(packed):
            held = self.buckets.get(key)
            if held is not None:
                candidates.update([held] if isinstance(held, int) else held)
        scored = [
            (corpus.estimated_jaccard(signature, self._unpack(self.signatures[p])), p)
            for p in candidates
        ]
        scored = [(score, p) for score, p in scored if score >= NEAR_DUPLICATE_THRESHOLD]
        if not scored:
            return None
        score, post_id = max(scored)
        return post_id, score

    @staticmethod
    def _unpack(packed: bytes) -> tuple[int, ...]:
        return tuple(np.frombuffer(packed, dtype=np.uint64).tolist())


def import_items(
    items: Iterable[ImportedPost | ImportSkip],
    *,
    by: User,
    channel: str = Post.Channel.GENERAL,
    on_item: Callable[[ReportLine], None] | None = None,
) -> list[ReportLine]:
    """Import every item; returns the report. Posts are embedded afterwards, in one go."""
    near = NearDuplicateIndex.of_corpus()
    report: list[ReportLine] = []
    created: list[int] = []
    for item in items:
        try:
            line = _import_one(item, by=by, channel=channel, near=near)
        except Exception as exc:  # one broken item must not stop the batch
            logger.exception("import item failed", extra={"source": _source(item)})
            line = ReportLine(_source(item), "skipped", f"Could not import: {exc}.")
        if line.outcome == "imported" and line.post_id is not None:
            created.append(line.post_id)
        report.append(line)
        if on_item is not None:
            on_item(line)
    if created:
        from posts.services.embedding import EMBED_BATCH_POSTS
        from posts.tasks import posts_embed_task

        def enqueue() -> None:
            for start in range(0, len(created), EMBED_BATCH_POSTS):
                posts_embed_task.delay(post_ids=created[start : start + EMBED_BATCH_POSTS])

        # After commit, or a worker could look for posts it cannot see yet.
        transaction.on_commit(enqueue)
    return report


def _source(item: ImportedPost | ImportSkip) -> str:
    return item.source_name


@transaction.atomic
def _import_one(
    item: ImportedPost | ImportSkip, *, by: User, channel: str, near: NearDuplicateIndex
) -> ReportLine:
    if isinstance(item, ImportSkip):
        return ReportLine(item.source_name, "skipped", item.reason)
    key = import_key(item)
    earlier = Post.objects.filter(import_key=key).only("id", "title").first()
    if earlier is not None:
        return ReportLine(
            item.source_name, "duplicate", f"Already imported as “{earlier.title}”.", earlier.id
        )
    cleaned = corpus.clean_text(item.body_markdown)
    if not cleaned.text.strip():
        return ReportLine(item.source_name, "skipped", "No text left after cleaning.")
    same = (
        Post.objects.filter(content_hash=corpus.content_hash(cleaned.text))
        .only("id", "title")
        .first()
    )
    if same is not None:
        return ReportLine(item.source_name, "duplicate", f"Same text as “{same.title}”.", same.id)

    try:
        post = post_create(
            author=by,
            title=item.title or "Untitled",
            body_markdown=cleaned.text,
            excerpt=item.excerpt,
            tags=item.tags,
            slug=item.slug,
            channel=channel,
            source=Post.Source.IMPORTED,
            status=Post.Status.DRAFT if item.is_draft else Post.Status.PUBLISHED,
            published_at=None if item.is_draft else (item.published_at or timezone.now()),
            embed=False,
        )
    except ValidationError as exc:  # too long, say: this one is skipped, the others go on
        return ReportLine(item.source_name, "skipped", " ".join(exc.messages))
    post.import_key, post.import_format = key, item.source_format
    # Held out by what it was imported from, not by its random uid: the same export gives the
    # same validation posts on every machine, so a benchmark's figures compare across imports.
    post.split = corpus.split_for(key)
    post.cleaning_changes = list(cleaned.changes)
    post.contact_findings = [asdict(f) for f in corpus.find_contact_details(cleaned.text)]
    details = list(item.notes)  # what the importer left out, e.g. template tags
    match = near.best_match(tuple(post.minhash))
    if match is not None:
        post.duplicate_of_id, post.duplicate_score = match
        details.append(f"near-duplicate of post {match[0]} ({match[1]:.0%} similar), flagged")
    if post.contact_findings:
        details.append(f"{len(post.contact_findings)} contact details flagged for review")
    post.save(
        update_fields=[
            "import_key", "import_format", "split", "cleaning_changes", "contact_findings",
            "duplicate_of", "duplicate_score",
        ]
    )  # fmt: skip
    near.add(post.id, tuple(post.minhash))
    return ReportLine(item.source_name, "imported", "; ".join(details), post.id)


# --- Import jobs: an uploaded file imported in the background with a progress bar.


def import_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


@transaction.atomic
def import_job_create(
    *, by: User, upload: object, channel: str = Post.Channel.GENERAL
) -> ImportJob:
    """Store the upload under the data dir and queue its import (the task starts after commit)."""
    name = Path(getattr(upload, "name", "upload")).name or "upload"
    folder = import_dir() / uuid.uuid4().hex
    folder.mkdir(parents=True)
    stored = folder / name
    with stored.open("wb") as handle:
        for block in upload.chunks():
            handle.write(block)
    job = ImportJob.objects.create(
        by=by, file_name=name, stored_path=str(stored), channel=channel,
        items_total=estimate_items(stored),
    )  # fmt: skip
    from posts.tasks import import_job_run_task

    transaction.on_commit(lambda: import_job_run_task.delay(import_job_id=job.id))
    return job


def import_job_run(*, job: ImportJob) -> ImportJob:
    """Run a queued job to the end, saving progress every few items; the upload is then deleted."""
    ImportJob.objects.filter(id=job.id).update(status=ImportJob.Status.RUNNING)
    counts = {"imported": 0, "duplicate": 0, "skipped": 0}
    lines: list[dict] = []

    def on_item(line: ReportLine) -> None:
        counts[line.outcome] += 1
        lines.append(asdict(line))
        if len(lines) % 25 == 0:
            _save_progress(job, counts, lines)

    try:
        import_items(
            iter_import(Path(job.stored_path)), by=job.by, channel=job.channel, on_item=on_item
        )
    except Exception as exc:
        logger.exception("import job failed", extra={"job": job.id})
        job.status, job.error = ImportJob.Status.FAILED, f"The import stopped: {exc}"
    else:
        job.status = ImportJob.Status.FINISHED
    _save_progress(job, counts, lines)
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    shutil.rmtree(Path(job.stored_path).parent, ignore_errors=True)
    return job


def _save_progress(job: ImportJob, counts: dict[str, int], lines: list[dict]) -> None:
    job.imported, job.duplicates, job.skipped = (
        counts["imported"],
        counts["duplicate"],
        counts["skipped"],
    )
    job.items_done = len(lines)
    job.items_total = max(job.items_total, job.items_done)
    job.report = lines
    job.save(
        update_fields=["imported", "duplicates", "skipped", "items_done", "items_total", "report"]
    )


def estimate_items(path: Path) -> int:
    """How many items an import holds, cheaply, for the progress bar (exact for zips/folders)."""
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(1 for info in archive.infolist() if not info.is_dir())
    if path.suffix.lower() in {".xml", ".rss", ".atom"}:
        count, tail = 0, b""
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                data = tail + block
                count += data.count(b"<item>") + data.count(b"<item ") + data.count(b"<entry")
                tail = data[-8:]
                count -= tail.count(b"<item>") + tail.count(b"<item ") + tail.count(b"<entry")
        return max(count, 1)
    return 1
