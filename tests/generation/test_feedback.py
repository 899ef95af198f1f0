"""Thumbs, edit distance at publish time, A/B experiments and their results."""

import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.feedback import (
    edit_distance,
    experiment_assign,
    experiment_start,
    experiment_stop,
    feedback_give,
)
from generation.models import GenerationRun
from generation.services.runs import generation_run_start
from generation.stats import Rate, experiment_results, version_dashboard
from posts.models import Post
from posts.services.workflow import post_approve, post_publish, post_submit
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def finished_run(author, *, output: str = "one two three four", version=None, **fields):  # noqa: ANN001, ANN201
    post = make_post(author, title="AI draft", body_markdown=output, source=Post.Source.AI_ASSISTED)
    now = timezone.now()
    return GenerationRun.objects.create(
        channel="general", brief={"topic": "t"}, requested_by=author, base_model="m",
        model_version=version, status="succeeded", output=output, post=post,
        started_at=now - timezone.timedelta(seconds=4), finished_at=now, tokens_per_s=12.0,
        **fields,
    )  # fmt: skip


def test_edit_distance_counts_changed_words_over_the_longer_text():
    assert edit_distance("a b c d", "a b c d") == 0.0
    assert edit_distance("a b c d", "a x c d") == 0.25
    assert edit_distance("a b", "c d e f") == 1.0
    assert edit_distance("", "") == 0.0
    # The sources list is not the editor's text.
    assert edit_distance("a b\n\n## Sources\n\n- [1]: T", "a b") == 0.0


def test_publishing_an_ai_draft_records_how_far_the_editor_moved_it(
    author, editor, django_capture_on_commit_callbacks
):
    run = finished_run(author, output="Tea calms me every single afternoon")
    post = run.post
    Post.objects.filter(id=post.id).update(body_markdown="Tea calms me every afternoon")
    post.refresh_from_db()
    post_submit(post=post, by=author)
    post_approve(post=post, by=editor)

    with django_capture_on_commit_callbacks() as callbacks:
        post_publish(post=post, by=editor)
    run.refresh_from_db()
    assert run.published_at is None  # nothing is measured inside the publish transaction
    _embed, announce = callbacks  # the embedding is queued; then posts announces the publication
    announce()

    run.refresh_from_db()
    assert run.published_at is not None and run.edit_distance == pytest.approx(1 / 6)


def test_thumbs_are_one_per_person_and_draft_and_only_for_those_involved(author, editor, outsider):
    run = finished_run(author)

    feedback_give(run=run, by=author, thumbs_up=False, comment="Too stiff")
    feedback_give(run=run, by=author, thumbs_up=True, comment="Better on a second read")
    feedback_give(run=run, by=editor, thumbs_up=True)

    assert run.feedback.count() == 2
    assert run.feedback.get(user=author).comment == "Better on a second read"
    with pytest.raises(PermissionDenied):
        feedback_give(run=run, by=outsider, thumbs_up=True)


def test_an_experiment_splits_a_channels_requests_between_two_versions(author, editor):
    a, b = ModelVersionFactory(status="active"), ModelVersionFactory()
    experiment = experiment_start(name="", version_a=a, version_b=b, by=editor, share_b=0.5)

    arms = [experiment_assign("general", rng=random.Random(i))[1] for i in range(200)]
    run = generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)

    assert 70 < arms.count("b") < 130  # about half, for a seeded 200
    assert run.experiment == experiment and run.model_version == {"a": a, "b": b}[run.arm]
    experiment_stop(experiment=experiment, by=editor)
    later = generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)
    assert later.experiment is None and later.model_version == a  # the active version again


def test_experiments_are_refused_when_they_make_no_sense(editor, officer):
    a, b = ModelVersionFactory(), ModelVersionFactory()
    clinical = ModelVersionFactory(channel="clinical")
    with pytest.raises(ValidationError, match="same channel"):
        experiment_start(name="x", version_a=a, version_b=clinical, by=editor)
    with pytest.raises(ValidationError, match="two different"):
        experiment_start(name="x", version_a=a, version_b=a, by=editor)
    with pytest.raises(PermissionDenied):
        experiment_start(name="x", version_a=a, version_b=b, by=officer)
    experiment_start(name="x", version_a=a, version_b=b, by=editor)
    with pytest.raises(ValidationError, match="already has an experiment"):
        experiment_start(name="y", version_a=b, version_b=a, by=editor)


def test_the_database_allows_one_active_experiment_per_channel(editor):
    from generation.models import Experiment

    a, b = ModelVersionFactory(), ModelVersionFactory()
    Experiment.objects.create(name="1", channel="general", version_a=a, version_b=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.create(name="2", channel="general", version_a=b, version_b=a)


def test_results_count_each_arm_with_wilson_intervals(author, editor):
    a, b = ModelVersionFactory(), ModelVersionFactory()
    experiment = experiment_start(name="x", version_a=a, version_b=b, by=editor)
    for i in range(4):
        run = finished_run(author, version=a, experiment=experiment, arm="a")
        feedback_give(run=run, by=author, thumbs_up=i < 3)
    finished_run(author, version=b, experiment=experiment, arm="b", edit_distance=0.2,
                 published_at=timezone.now())  # fmt: skip

    results = experiment_results(experiment)

    assert results["a"]["runs"] == 4 and results["a"]["thumbs_up"] == Rate(3, 4)
    low, high = results["a"]["thumbs_up"].interval
    assert 0.30 < low < 0.75 < high < 0.96  # Wilson 95% for 3 of 4
    assert results["b"]["acceptance"] == Rate(1, 1) and results["b"]["edit_distance"].value == 0.2
    assert results["a"]["latency_s"].value == pytest.approx(4.0)


def test_the_dashboard_has_a_row_per_version_and_one_for_the_base_model(author):
    version = ModelVersionFactory()
    finished_run(author, version=version)
    finished_run(author)
    rated = finished_run(author, version=version)
    feedback_give(run=rated, by=author, thumbs_up=True)

    rows = version_dashboard("general")

    assert [r["label"] for r in rows] == ["Base model", str(version)]
    assert rows[1]["runs"] == 2 and rows[1]["thumbs_up"] == Rate(1, 1)
    assert rows[1]["tokens_per_s"] == pytest.approx(12.0)
