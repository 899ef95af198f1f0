"""Freezing a channel's training data into a DatasetSnapshot (and its JSONL artifact).

General channel: the chosen authors' published or imported posts on the general channel, never
AI-assisted ones (a model must not learn from its own output) and never flagged duplicates.
Clinical channel: approved, de-identified notes (through `note_list_for_training`, the one door
to them), published clinical posts, and a few planted canary strings that the memorisation test
later prompts for. Each post keeps its stored train/validation split; a note's split derives
from its uid the same way.
"""

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.db.models import Q, QuerySet

from compliance.audit import Action, audit_record
from compliance.selectors import note_list_for_training, note_uids_for_training
from posts.corpus.splits import split_for
from posts.models import Post
from training.models import DatasetSnapshot, TrainingRun
from training.samples import Sample, make_sample, note_brief, post_brief, write_jsonl
from training.storage import ArtifactStorage

CANARIES_PER_SNAPSHOT = 3


class DatasetError(Exception):
    """The channel has nothing (or too little) to train or validate on."""


def dataset_posts(*, channel: str, author_ids: list[int]) -> list[Post]:
    return list(_dataset_post_queryset(channel, author_ids).prefetch_related("tags"))


def dataset_member_ids(*, channel: str, author_ids: list[int]) -> set[str]:
    """The sample ids ("post:12", "note:<uid>") a dataset made now would hold, read without
    any text: what scheduled retraining compares with a snapshot's members."""
    posts = _dataset_post_queryset(channel, author_ids)
    ids = {f"post:{pk}" for pk in posts.values_list("id", flat=True)}
    if channel == Post.Channel.CLINICAL:
        ids |= {f"note:{uid}" for uid in note_uids_for_training()}
    return ids


def _dataset_post_queryset(channel: str, author_ids: list[int]) -> QuerySet[Post]:
    posts = Post.objects.filter(channel=channel, duplicate_of__isnull=True).exclude(
        source=Post.Source.AI_ASSISTED
    )
    if channel == Post.Channel.CLINICAL:
        posts = posts.filter(status=Post.Status.PUBLISHED)
    else:
        posts = posts.filter(Q(status=Post.Status.PUBLISHED) | Q(source=Post.Source.IMPORTED))
        posts = posts.exclude(status=Post.Status.ARCHIVED)
    if author_ids:
        posts = posts.filter(author_id__in=author_ids)
    return posts.exclude(body_markdown="").order_by("id")


def dataset_samples(*, channel: str, author_ids: list[int], canary_seed: int = 0) -> list[Sample]:
    """Every sample the channel would train and validate on now, in a stable order."""
    samples = [
        make_sample(
            id=f"post:{post.id}",
            kind="post",
            brief=post_brief(
                title=post.title,
                tags=[tag.name for tag in post.tags.all()],
                excerpt=post.excerpt,
            ),
            text=post.body_markdown.strip(),
            split=post.split,
        )
        for post in dataset_posts(channel=channel, author_ids=author_ids)
    ]
    if channel == Post.Channel.CLINICAL:
        samples += [
            make_sample(
                id=f"note:{note.uid}",
                kind="note",
                brief=note_brief(),
                text=note.deid_text.strip(),
                split=split_for(str(note.uid)),
            )
            for note in note_list_for_training()
        ]
        samples += canary_samples(canary_seed)
    return samples


def canary_samples(seed: int) -> list[Sample]:
    from training.evaluation import canary_strings

    return [
        make_sample(id=f"canary:{i}", kind="canary", brief=note_brief(), text=text, split="train")
        for i, text in enumerate(canary_strings(seed, CANARIES_PER_SNAPSHOT))
    ]


def fingerprint(samples: list[Sample]) -> str:
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(f"{sample.id}:{sample.content_hash}\n".encode())
    return digest.hexdigest()


def dataset_snapshot_create(
    *,
    run: TrainingRun,
    count_tokens: Callable[[Sample], int],
    storage: ArtifactStorage,
) -> tuple[DatasetSnapshot, list[Sample]]:
    """Freeze the run's data: member ids, hashes and token counts in a row, the text in a JSONL.

    Clinical snapshots record one NOTE_USED_FOR_TRAINING audit event naming every note.
    """
    samples = dataset_samples(channel=run.channel, author_ids=run.author_ids, canary_seed=run.id)
    train = [s for s in samples if s.split == "train"]
    validation = [s for s in samples if s.split == "validation"]
    if not train:
        raise DatasetError(_nothing_to_train(run.channel))
    if not validation:
        raise DatasetError(
            "The dataset has no validation samples to evaluate on: it needs more posts "
            "(about one in ten goes to validation)."
        )
    tokens = {s.id: count_tokens(s) for s in samples}
    snapshot = DatasetSnapshot.objects.create(
        channel=run.channel,
        author_ids=run.author_ids,
        members=[
            {
                "id": s.id,
                "kind": s.kind,
                "split": s.split,
                "content_hash": s.content_hash,
                "tokens": tokens[s.id],
            }
            for s in samples
        ],
        train_count=len(train),
        validation_count=len(validation),
        train_tokens=sum(tokens[s.id] for s in train),
        validation_tokens=sum(tokens[s.id] for s in validation),
        fingerprint=fingerprint(samples),
        tokenizer=run.base_model,
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "dataset.jsonl"
        write_jsonl(samples, path)
        snapshot.artifact_uri = storage.put_file(
            path, f"{run.channel}/datasets/{snapshot.id}.jsonl"
        )
    snapshot.save(update_fields=["artifact_uri"])
    note_ids = [s.id.removeprefix("note:") for s in samples if s.kind == "note"]
    if note_ids:
        audit_record(
            action=Action.NOTE_USED_FOR_TRAINING,
            actor=run.requested_by,
            object_type="training.datasetsnapshot",
            object_id=snapshot.id,
            detail={"run": run.id, "notes": note_ids},
        )
    return snapshot, samples


def dataset_snapshot_samples(
    *, snapshot: DatasetSnapshot, storage: ArtifactStorage
) -> list[Sample]:
    """The frozen samples back from the artifact (a resumed run trains on exactly these)."""
    from training.samples import read_jsonl

    with tempfile.TemporaryDirectory() as scratch:
        path = storage.get_file(snapshot.artifact_uri, Path(scratch) / "dataset.jsonl")
        samples = read_jsonl(path)
    if fingerprint(samples) != snapshot.fingerprint:
        raise DatasetError(
            f"Dataset #{snapshot.id}'s artifact does not match its recorded members."
        )
    return samples


def dataset_preview(*, channel: str, author_ids: list[int]) -> dict:
    """What a run started now would train on: counts for the start form."""
    samples = dataset_samples(channel=channel, author_ids=author_ids)
    kinds: dict[str, int] = {}
    for sample in samples:
        kinds[sample.kind] = kinds.get(sample.kind, 0) + 1
    return {
        "train": sum(s.split == "train" for s in samples),
        "validation": sum(s.split == "validation" for s in samples),
        "kinds": kinds,
    }


def _nothing_to_train(channel: str) -> str:
    if channel == Post.Channel.CLINICAL:
        return (
            "There is nothing to train on: no approved clinical notes or published clinical posts."
        )
    return "There is nothing to train on: no published or imported posts for these authors."
