"""Freezing training data: who and what goes in, and the clinical gate."""

import pytest

from compliance.models import AuditEvent, ClinicalNote
from posts.models import Post
from tests.compliance.factories import decided, make_note, make_officer
from tests.posts.factories import make_post
from training.models import TrainingRun
from training.services.datasets import (
    DatasetError,
    dataset_samples,
    dataset_snapshot_create,
    dataset_snapshot_samples,
)
from training.storage import LocalStorage

pytestmark = pytest.mark.django_db


def words(n: int, seed: str = "calm") -> str:
    return " ".join(f"{seed}{i % 17}" for i in range(n))


def in_split(post: Post, split: str) -> Post:
    Post.objects.filter(id=post.id).update(split=split)
    post.refresh_from_db()
    return post


def test_general_samples_are_published_or_imported_posts_never_ai_drafts_or_duplicates(author):
    published = make_post(author, title="Published", status=Post.Status.PUBLISHED)
    imported = make_post(author, title="Imported", source=Post.Source.IMPORTED)
    make_post(author, title="Unpublished draft")
    make_post(author, title="AI", source=Post.Source.AI_ASSISTED, status=Post.Status.PUBLISHED)
    copy = make_post(author, title="Copy", status=Post.Status.PUBLISHED)
    Post.objects.filter(id=copy.id).update(duplicate_of=published)
    make_post(author, title="Clinical", channel=Post.Channel.CLINICAL, status="published")

    samples = dataset_samples(channel="general", author_ids=[])

    assert {s.id for s in samples} == {f"post:{published.id}", f"post:{imported.id}"}
    assert all(s.kind == "post" for s in samples)


def test_general_samples_keep_to_the_chosen_authors(author, editor):
    mine = make_post(author, title="Mine", status=Post.Status.PUBLISHED)
    make_post(editor, title="Theirs", status=Post.Status.PUBLISHED)

    samples = dataset_samples(channel="general", author_ids=[author.id])

    assert [s.id for s in samples] == [f"post:{mine.id}"]


def test_a_sample_briefs_the_model_with_title_tags_and_excerpt(author):
    post = make_post(
        author,
        title="Night shifts",
        tags=["sleep", "work"],
        excerpt="How I keep a rhythm.",
        status=Post.Status.PUBLISHED,
    )

    (sample,) = dataset_samples(channel="general", author_ids=[])

    assert "Night shifts" in sample.brief and "sleep" in sample.brief
    assert "How I keep a rhythm." in sample.brief
    assert sample.text == post.body_markdown.strip()
    assert sample.split == post.split


def test_the_clinical_dataset_refuses_notes_that_are_not_approved(author):
    uploader, reviewer = make_officer(), make_officer()
    approved = decided(make_note(uploader), by=reviewer, status=ClinicalNote.Status.APPROVED)
    pending = make_note(uploader, text="Patient Anna Berg, 555-123-9876, seen for knee pain.")
    rejected = decided(
        make_note(uploader, text="Patient Carl Dunn seen on 02/02/2022 for a cough."),
        by=reviewer,
        status=ClinicalNote.Status.REJECTED,
    )
    clinical = make_post(author, title="Clinical", channel="clinical", status="published")
    make_post(author, title="General", status=Post.Status.PUBLISHED)

    samples = dataset_samples(channel="clinical", author_ids=[])

    ids = {s.id for s in samples}
    assert f"note:{approved.uid}" in ids and f"post:{clinical.id}" in ids
    assert f"note:{pending.uid}" not in ids and f"note:{rejected.uid}" not in ids
    # Only de-identified text ever enters: the approved note's raw name is gone.
    note_text = next(s.text for s in samples if s.kind == "note")
    assert note_text == approved.deid_text.strip() and "John Smith" not in note_text
    # Planted canaries, for the memorisation test, and no general post.
    assert sum(s.kind == "canary" for s in samples) == 3
    assert {s.kind for s in samples} == {"post", "note", "canary"}


def snapshot_for(run: TrainingRun, tmp_path):  # noqa: ANN001, ANN201
    return dataset_snapshot_create(
        run=run, count_tokens=lambda s: len(s.text.split()), storage=LocalStorage(tmp_path)
    )


def test_a_snapshot_freezes_members_hashes_token_counts_and_a_jsonl(author, editor, tmp_path):
    train = make_post(author, title="T", body_markdown=words(40), status="published")
    valid = in_split(
        make_post(author, title="V", body_markdown=words(30), status="published"), "validation"
    )
    train = in_split(train, "train")
    run = TrainingRun.objects.create(channel="general", base_model="tiny", requested_by=editor)

    snapshot, samples = snapshot_for(run, tmp_path)

    assert (snapshot.train_count, snapshot.validation_count) == (1, 1)
    assert (snapshot.train_tokens, snapshot.validation_tokens) == (40, 30)
    members = {m["id"]: m for m in snapshot.members}
    assert members[f"post:{train.id}"]["split"] == "train"
    assert members[f"post:{valid.id}"]["content_hash"] == samples[1].content_hash
    # The artifact reads back to exactly the frozen samples, even after the posts change.
    Post.objects.filter(id=train.id).update(body_markdown="rewritten")
    assert dataset_snapshot_samples(snapshot=snapshot, storage=LocalStorage(tmp_path)) == samples


def test_a_snapshot_whose_artifact_was_swapped_is_refused(author, editor, tmp_path):
    in_split(make_post(author, title="T", body_markdown=words(40), status="published"), "train")
    in_split(
        make_post(author, title="V", body_markdown=words(30), status="published"), "validation"
    )
    run = TrainingRun.objects.create(channel="general", base_model="tiny", requested_by=editor)
    snapshot, _ = snapshot_for(run, tmp_path)
    snapshot.fingerprint = "0" * 64
    snapshot.save(update_fields=["fingerprint"])

    with pytest.raises(DatasetError, match="does not match"):
        dataset_snapshot_samples(snapshot=snapshot, storage=LocalStorage(tmp_path))


def test_a_snapshot_needs_validation_posts(author, editor, tmp_path):
    in_split(make_post(author, title="T", body_markdown=words(40), status="published"), "train")
    run = TrainingRun.objects.create(channel="general", base_model="tiny", requested_by=editor)

    with pytest.raises(DatasetError, match="no validation samples"):
        snapshot_for(run, tmp_path)


def test_an_empty_channel_says_there_is_nothing_to_train_on(editor, tmp_path):
    run = TrainingRun.objects.create(channel="general", base_model="tiny", requested_by=editor)

    with pytest.raises(DatasetError, match="nothing to train on"):
        snapshot_for(run, tmp_path)


def test_a_clinical_snapshot_records_which_notes_trained_in_the_audit_trail(author, tmp_path):
    uploader, reviewer = make_officer(), make_officer()
    note = decided(make_note(uploader), by=reviewer, status=ClinicalNote.Status.APPROVED)
    in_split(make_post(author, title="V", channel="clinical", status="published"), "validation")
    run = TrainingRun.objects.create(channel="clinical", base_model="tiny", requested_by=reviewer)

    snapshot, samples = snapshot_for(run, tmp_path)

    event = AuditEvent.objects.get(action="note.used_for_training")
    assert event.actor_id == reviewer.id
    assert event.detail["notes"] == [str(note.uid)]
    assert event.object_id == str(snapshot.id)
