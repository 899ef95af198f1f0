"""Drift reports end to end: the service compares the version's training posts with the posts
and briefs since, stores a report against it; beat makes one per version and day; the page
shows it with its plots to those who manage the channel's models; /metrics exposes it; the
dashboard's sentence appears only for a drifted report on the version drafts use now.

The embeddings are the real bundled MiniLM's (as in tests/posts/test_search.py).
"""

import json

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from blogllm import metrics
from generation.models import GenerationRun
from posts.models import Post
from tests.compliance.factories import with_totp
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory
from training import selectors
from training.models import DatasetSnapshot, DriftReport, ModelVersion
from training.services.drift import drift_report_compute, drift_reports_due

GENERAL, CLINICAL = Post.Channel.GENERAL, Post.Channel.CLINICAL
GARDEN = "soil compost seedlings tomato mulch pruning roses watering harvest beds weeds shade"
MONEY = "budget savings interest mortgage pension invoice taxes stocks dividend loan credit rent"
COMMON = "the a of and to in is it that for on with as this was we you are be"
N = 12  # above BLOGLLM_DRIFT_MIN_ITEMS' default of 10


def body(topic: str, words: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    topic_words, common = topic.split(), COMMON.split()
    chosen = (rng.choice(topic_words) if rng.random() < 0.4 else rng.choice(common)
              for _ in range(words + int(rng.integers(0, words // 4))))  # fmt: skip
    return " ".join(chosen).capitalize() + "."


def posts(author, topic: str, *, words: int, seed: int) -> list[Post]:  # noqa: ANN001
    name = topic.split()[0]
    return [
        make_post(
            author,
            status=Post.Status.PUBLISHED,
            title=f"{name.title()} notes {n}: {' '.join(topic.split()[n % 6 : n % 6 + 3])}",
            excerpt=f"What I learned about {topic.split()[n % 12]} this season.",
            body_markdown=body(topic, words, seed + n),
        )
        for n in range(N)
    ]


def version_on(training_posts: list[Post], **fields: object) -> ModelVersion:
    members = [
        {"id": f"post:{p.id}", "kind": "post", "split": "train", "content_hash": "x", "tokens": 9}
        for p in training_posts
    ]
    version = ModelVersionFactory(**fields)
    DatasetSnapshot.objects.filter(id=version.dataset_id).update(members=members)
    return version


def briefs(by, topic: str, count: int = N) -> None:  # noqa: ANN001
    words = topic.split()
    for n in range(count):
        GenerationRun.objects.create(
            channel=GENERAL,
            requested_by=by,
            status=GenerationRun.Status.SUCCEEDED,
            base_model="tiny-base",
            brief={"topic": f"{words[n % 12]} and {words[(n + 3) % 12]}", "outline": ""},
            style_fidelity=0.5 + n / 100,
            grounding=0.6,
            findings=[{"kind": "phi"}] if n % 3 == 0 else [],
            edit_distance=0.2 if n % 2 else None,
            published_at=None,
        )


@pytest.fixture
def drifted(editor):  # noqa: ANN001, ANN201
    """An active version trained on gardening posts; since, longer money posts and briefs."""
    trained = posts(editor, GARDEN, words=120, seed=0)
    version = version_on(trained, status=ModelVersion.Status.ACTIVE)
    posts(editor, MONEY, words=300, seed=100)
    briefs(editor, MONEY)
    return version


# --- The service


@pytest.mark.django_db
def test_the_service_stores_a_report_against_the_active_version(drifted) -> None:  # noqa: ANN001
    report = drift_report_compute(channel=GENERAL)
    assert report.version == drifted and report.channel == GENERAL
    assert report.drifted and report.format_version == DriftReport.FORMAT == report.report["format"]
    corpus, requests = report.report["parts"]["corpus"], report.report["parts"]["requests"]
    assert (corpus["reference_n"], corpus["current_n"], requests["current_n"]) == (N, N, N)
    assert corpus["drifted"] and requests["drifted"]
    assert {s["name"]: s["drifted"] for s in corpus["statistics"]}["length"] is True
    assert set(report.report["scores"]) == {
        "corpus_auc", "corpus_centroid", "requests_auc", "requests_centroid",
    }  # fmt: skip
    style = report.report["behaviour"]["style_fidelity"]
    assert len(style) == 1 and style[0]["n"] == N and style[0]["low"] < style[0]["mean"]
    assert report.report["behaviour"]["acceptance"][0]["mean"] == 0.0
    # Numbers only: not a word of a post or a brief is kept.
    assert "mortgage" not in json.dumps(report.report)


@pytest.mark.django_db
def test_posts_the_snapshot_holds_and_older_posts_are_not_current(editor) -> None:  # noqa: ANN001
    old = posts(editor, GARDEN, words=120, seed=0)
    version_on(old[:N], status=ModelVersion.Status.ACTIVE)
    report = drift_report_compute(channel=GENERAL)
    corpus = report.report["parts"]["corpus"]
    assert (corpus["current_n"], corpus["drifted"]) == (0, None)
    assert corpus["statistics"][0]["note"].startswith("Not enough to compare")


@pytest.mark.django_db
def test_without_a_version_there_is_nothing_to_compare(editor) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="no trained version"):
        drift_report_compute(channel=GENERAL)


@pytest.mark.django_db
def test_with_none_active_the_newest_candidate_is_the_reference(editor) -> None:  # noqa: ANN001
    version_on([], number=1)
    newest = version_on([], number=2)
    version_on([], number=3, status=ModelVersion.Status.ARCHIVED)
    assert selectors.drift_reference_version(GENERAL) == newest


@pytest.mark.django_db
def test_beat_computes_once_per_version_and_day(drifted) -> None:  # noqa: ANN001
    (first,) = drift_reports_due()
    assert drift_reports_due() == []  # fresh, and on the same version
    DriftReport.objects.filter(id=first).update(computed_at=drifted.created_at.replace(year=2000))
    assert len(drift_reports_due()) == 1  # a day old: again


# --- The dashboard's sentence


@pytest.mark.django_db
def test_the_dashboard_sentence_names_what_drifted_on_the_current_version(
    client, editor, drifted
) -> None:  # noqa: ANN001
    assert selectors.drift_warning(GENERAL) is None  # no report yet
    report = drift_report_compute(channel=GENERAL)
    assert selectors.drift_warning(GENERAL) == (
        "New posts and requests have moved away from the training posts: retrain or review."
    )
    report.report["parts"]["corpus"]["drifted"] = False
    report.save(update_fields=["report"])
    assert selectors.drift_warning(GENERAL) == (
        "Requests have moved away from the training posts: retrain or review."
    )
    # The AI dashboard carries the sentence, with the way to the report.
    client.force_login(editor)
    html = client.get(reverse("generation:dashboard")).content.decode()
    assert "Requests have moved away from the training posts: retrain or review." in html
    assert reverse("training:drift", args=[GENERAL]) in html
    # Another version is active now: the report said nothing about it.
    ModelVersion.objects.filter(id=drifted.id).update(status=ModelVersion.Status.CANDIDATE)
    version_on([], status=ModelVersion.Status.ACTIVE)
    assert selectors.drift_warning(GENERAL) is None


# --- The page


@pytest.mark.django_db
def test_the_page_shows_the_report_with_its_plots_to_an_editor(client, editor, drifted) -> None:  # noqa: ANN001
    drift_report_compute(channel=GENERAL)
    client.force_login(editor)
    response = client.get(reverse("training:drift", args=[GENERAL]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == 6  # the length histogram and five weekly behaviour lines
    assert 'class="bar s1"' in html and 'class="band"' in html
    for label in ("Length (words)", "Vocabulary", "New words", "Domain classifier", "drifted"):
        assert label in html
    assert " style=" not in html.split("<main", 1)[-1]  # CSP: classes, never style attributes
    versions = client.get(reverse("training:versions")).content.decode()
    assert reverse("training:drift", args=[GENERAL]) in versions


@pytest.mark.django_db
def test_the_page_without_a_report_says_what_to_do(client, editor) -> None:  # noqa: ANN001
    client.force_login(editor)
    response = client.get(reverse("training:drift", args=[GENERAL]))
    assert response.status_code == 200
    assert "No version on this channel yet" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["author", "outsider"])
def test_who_manages_no_models_is_refused(client, request, persona: str) -> None:  # noqa: ANN001
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("training:drift", args=[GENERAL])).status_code == 403


@pytest.mark.django_db
def test_another_channel_is_not_found(client, editor, officer) -> None:  # noqa: ANN001
    client.force_login(editor)
    assert client.get(reverse("training:drift", args=[CLINICAL])).status_code == 404
    client.force_login(with_totp(officer))
    assert client.get(reverse("training:drift", args=[GENERAL])).status_code == 404
    assert client.post(reverse("training:drift", args=[GENERAL])).status_code == 404


@pytest.mark.django_db
def test_compute_now_queues_the_report_after_commit(
    client, editor, drifted, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("training:drift", args=[GENERAL]))
    assert response.status_code == 302 and len(callbacks) == 1


# --- /metrics


@pytest.mark.django_db
def test_the_latest_report_is_a_metric(drifted) -> None:  # noqa: ANN001
    report = drift_report_compute(channel=GENERAL)
    text = metrics.exposition().decode()
    assert 'blogllm_drift_detected{channel="general"} 1.0' in text
    auc = report.report["scores"]["corpus_auc"]
    assert f'blogllm_drift_score{{channel="general",part="corpus_auc"}} {auc}' in text
    assert 'blogllm_drift_report_age_seconds{channel="general"}' in text
