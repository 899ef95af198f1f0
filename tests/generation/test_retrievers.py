"""The LangChain retriever: real pgvector and full-text search, each channel's reading rules,
and maximal marginal relevance."""

import numpy as np
import pytest

from compliance.models import ClinicalNote, NoteChunk
from compliance.services.embedding import note_embed
from generation.retrievers import ChunkRetriever, mmr
from posts.models import Post
from posts.services.embedding import posts_embed
from tests.compliance.factories import decided, make_note, make_officer
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db

TEA = "## Tea\n\nGreen tea in the afternoon keeps me calm; the ritual matters more than the leaf."
RUN = "## Running\n\nA slow run before work clears my head better than coffee ever did."


def published(author, title: str, body: str, channel: str = "general") -> Post:  # noqa: ANN001
    return make_post(author, title=title, body_markdown=body, channel=channel, status="published")


def test_the_general_channel_reads_published_general_posts_only(author):
    tea = published(author, "Tea", TEA)
    make_post(author, title="Draft tea", body_markdown=TEA)  # not published
    published(author, "Clinical tea", TEA, channel="clinical")
    posts_embed(post_ids=Post.objects.values_list("id", flat=True))

    docs = ChunkRetriever(channel="general", k=5).invoke("afternoon tea ritual")

    assert {d.metadata["post_id"] for d in docs} == {tea.id}
    first = docs[0]
    assert first.metadata["source"] == "post" and first.metadata["title"] == "Tea"
    assert first.metadata["rank"] == 1 and first.metadata["score"] > 0
    assert "ritual" in first.page_content


def test_the_clinical_channel_reads_clinical_posts_and_approved_notes_only(author):
    uploader, reviewer = make_officer(), make_officer()
    approved = decided(
        make_note(uploader, text="Patient reports insomnia; advised green tea before bed."),
        by=reviewer,
        status=ClinicalNote.Status.APPROVED,
    )
    pending = make_note(uploader, text="Patient drinks green tea and sleeps badly.")
    clinical = published(author, "Sleep and tea", TEA, channel="clinical")
    published(author, "General tea", TEA)
    posts_embed(post_ids=Post.objects.values_list("id", flat=True))
    note_embed(note_id=approved.id)
    # Pending notes are never embedded; a stray chunk of one must still never be retrieved.
    stray = NoteChunk.objects.get(note=approved)
    stray.pk, stray.note = None, pending
    stray.save()

    docs = ChunkRetriever(channel="clinical", k=10).invoke("green tea and sleep")

    sources = {
        (d.metadata["source"], d.metadata.get("post_id") or d.metadata["note_uid"]) for d in docs
    }
    assert ("post", clinical.id) in sources and ("note", str(approved.uid)) in sources
    assert ("note", str(pending.uid)) not in sources
    assert all(d.metadata["source"] == "note" or d.metadata["post_id"] == clinical.id for d in docs)


def test_nothing_found_is_an_empty_list(author):
    assert ChunkRetriever(channel="general").invoke("tea") == []


def test_mmr_prefers_a_different_passage_to_a_near_copy_of_the_first():
    vectors = np.array([[1.0, 0.0], [0.99, 0.01], [0.0, 1.0]])
    relevance = np.array([1.0, 0.95, 0.7])

    assert mmr(relevance, vectors, k=2, lambda_mult=0.5) == [0, 2]
    assert mmr(relevance, vectors, k=2, lambda_mult=1.0) == [0, 1]  # relevance alone
    assert mmr(relevance, vectors, k=10, lambda_mult=0.5) == [0, 2, 1]
