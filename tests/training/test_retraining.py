"""Scheduled retraining (training/services/retraining.py): the policy, when a run is due (and
not before), the run beat starts, and the gates a candidate must pass before it is promoted."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from generation import quality
from posts.models import Post
from tests.posts.factories import make_post
from tests.training.factories import (
    DatasetSnapshotFactory,
    ModelVersionFactory,
    TrainingRunFactory,
    with_memorisation,
)
from training import tasks
from training.models import ModelVersion, RetrainEvent, TrainingRun
from training.services.retraining import (
    promotion_gates,
    retrain_candidate_settle,
    retrain_due,
    retrain_policy_for,
    retrain_policy_set,
    retrain_scheduled_check,
)

pytestmark = pytest.mark.django_db

HYPERPARAMETERS = {"rank": 8, "learning_rate": 1e-3, "epochs": 3.0, "max_steps": None,
                   "batch_size": 2, "max_length": 256}  # fmt: skip


def _policy(channel="general", by=None, **fields):  # noqa: ANN001, ANN003, ANN202
    values = {"enabled": True, "min_new_items": 3, "every_days": None, "quiet_hour": 3,
              "promote_when_better": False} | fields  # fmt: skip
    return retrain_policy_set(channel=channel, by=by, **values)


def _active_with(posts, channel="general", **run):  # noqa: ANN001, ANN003, ANN202
    """An active version whose dataset holds `posts`."""
    dataset = DatasetSnapshotFactory(
        channel=channel,
        members=[{"id": f"post:{p.id}", "kind": "post", "split": "train", "content_hash": "h",
                  "tokens": 10} for p in posts],
    )  # fmt: skip
    run = TrainingRunFactory(channel=channel, finished=True, dataset=dataset, **run)
    return ModelVersionFactory(channel=channel, run=run, dataset=dataset, status="active")


def _published(author, n, channel="general"):  # noqa: ANN001, ANN202
    """Published train-split posts (a post's split otherwise follows its random uid, and a
    held-out one would make the gates wait for a benchmark)."""
    posts = [
        make_post(author, status=Post.Status.PUBLISHED, title=f"Post {i}", channel=channel)
        for i in range(n)
    ]
    Post.objects.filter(id__in=[p.id for p in posts]).update(split=Post.Split.TRAIN)
    return posts


def _at_hour(hour: int) -> dt.datetime:
    return timezone.localtime().replace(hour=hour, minute=5, second=0, microsecond=0)


@pytest.fixture
def queued(monkeypatch):  # noqa: ANN001, ANN201
    """The runs' tasks, caught at `delay` (the worker is not what these tests are about)."""
    sent = []
    monkeypatch.setattr(tasks.training_run_execute_task, "delay", lambda run_id: sent.append(
        run_id) or type("Result", (), {"id": "task-1"})())  # fmt: skip
    return sent


# --- The policy --------------------------------------------------------------------------------


def test_retraining_is_off_until_someone_turns_it_on():
    policy = retrain_policy_for("general")

    assert policy.pk is None and not policy.enabled
    assert retrain_due(policy).reason == "Scheduled retraining is off."


def test_an_editor_sets_the_general_policy_and_only_an_officer_the_clinical_one(editor, officer):
    policy = _policy(by=editor)

    assert policy.enabled and policy.set_by == editor
    event = AuditEvent.objects.get(action="model.retrain_policy_set")
    assert event.detail["min_new_items"] == 3 and event.actor_id == editor.id
    with pytest.raises(PermissionDenied):
        _policy("clinical", by=editor)
    assert _policy("clinical", by=officer).set_by == officer


def test_a_policy_that_is_on_must_say_when(editor):
    with pytest.raises(ValidationError, match="Say when to retrain"):
        _policy(by=editor, min_new_items=None, every_days=None)


# --- When it is due ----------------------------------------------------------------------------


def test_a_run_is_not_due_before_n_new_posts_and_is_due_at_n(author, editor):
    trained = _published(author, 2)
    active = _active_with(trained)
    policy = _policy(by=editor)
    _published(author, 2)

    early = retrain_due(policy)
    make_post(author, status=Post.Status.PUBLISHED, title="The third")
    due = retrain_due(policy)

    assert not early.due and early.reason == f"Not due: 2 of 3 new posts since {active}'s dataset."
    assert due.due and due.reason.startswith(f"3 new posts since {active}'s dataset")
    assert timezone.localtime(due.starts_at).hour == 3


def test_drafts_ai_posts_and_the_trained_posts_themselves_are_not_new(author, editor):
    trained = _published(author, 2)
    _active_with(trained)
    policy = _policy(by=editor, min_new_items=1)
    make_post(author, title="Still a draft")
    make_post(author, status=Post.Status.PUBLISHED, source=Post.Source.AI_ASSISTED)

    assert not retrain_due(policy).due


def test_every_k_days_counts_from_the_active_versions_dataset_and_needs_something_new(
    author, editor
):  # noqa: ANN001
    active = _active_with(_published(author, 1))
    type(active.dataset).objects.filter(id=active.dataset_id).update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    policy = _policy(by=editor, min_new_items=None, every_days=30)

    stale = retrain_due(policy)
    make_post(author, status=Post.Status.PUBLISHED, title="New")
    due = retrain_due(policy)

    assert not stale.due and "31 days, but nothing new to learn from" in stale.reason
    assert due.due and "31 days since" in due.reason


def test_without_an_active_version_there_is_nothing_to_compare_with(author, editor):
    _published(author, 5)
    policy = _policy(by=editor, min_new_items=1)

    assert "promote a first version by hand" in retrain_due(policy).reason


# --- Beat starts the run -----------------------------------------------------------------------


def test_beat_starts_a_due_run_only_in_the_quiet_hour_with_the_active_versions_settings(
    author, editor, queued, django_capture_on_commit_callbacks
):  # noqa: ANN001
    active = _active_with(_published(author, 1), hyperparameters=HYPERPARAMETERS,
                          author_ids=[author.id])  # fmt: skip
    _policy(by=editor)
    _published(author, 3)

    with django_capture_on_commit_callbacks(execute=True):
        assert retrain_scheduled_check(now=_at_hour(14)) == []  # due, but not the quiet hour
        (run_id,) = retrain_scheduled_check(now=_at_hour(3))

    run = TrainingRun.objects.get(id=run_id)
    assert run.scheduled and run.requested_by == editor and queued == [run.id]
    assert run.base_model == active.base_model and run.author_ids == [author.id]
    assert {k: run.hyperparameters[k] for k in HYPERPARAMETERS} == HYPERPARAMETERS
    assert run.dataset is None  # a new snapshot is frozen when it starts
    event = RetrainEvent.objects.get()
    assert event.kind == "started" and event.run == run and "3 new posts" in event.reason
    # The next hour's check finds the run in progress and starts nothing.
    assert retrain_scheduled_check(now=_at_hour(3)) == []
    assert "is queued" in retrain_due(retrain_policy_for("general")).reason


def test_a_clinical_run_is_the_officers_and_stops_when_they_lose_the_role(
    officer, queued, django_capture_on_commit_callbacks
):  # noqa: ANN001
    active = _active_with(_published(officer, 0, "clinical"), channel="clinical")
    _policy("clinical", by=officer, min_new_items=1)
    make_post(officer, status=Post.Status.PUBLISHED, channel="clinical", title="New")
    officer.groups.clear()  # no longer a compliance officer

    with django_capture_on_commit_callbacks(execute=True):
        assert retrain_scheduled_check(now=_at_hour(3)) == []
        assert retrain_scheduled_check(now=_at_hour(3)) == []

    (skipped,) = RetrainEvent.objects.all()  # recorded once, not at every check
    assert skipped.kind == "skipped" and "Only compliance officers" in skipped.reason
    assert active.status == "active" and queued == []


# --- The candidate's gates ---------------------------------------------------------------------


def _measured(version, *, style=0.6, grounding=0.5, rouge=0.2, guard=1.0, passed=True):  # noqa: ANN001, ANN202
    row = {"label": quality.TUNED_RETRIEVAL, "style_fidelity": style, "grounding": grounding,
           "rouge_l": rouge, "guard_pass_rate": guard}  # fmt: skip
    version.draft_quality = {"format": 1, "rows": [row]}
    version.draft_quality_at = timezone.now()
    version.bias_audit = {"format": 1, "groups": [], "failed": [] if passed else ["age"]}
    version.bias_audit_passed = passed
    version.save()
    return version


def _candidate(active, *, perplexity=12.0):  # noqa: ANN001, ANN202
    run = TrainingRunFactory(channel=active.channel, finished=True, scheduled=True)
    version = ModelVersionFactory(channel=active.channel, run=run, dataset=run.dataset)
    version.metrics = {**version.metrics, "val_perplexity": perplexity}
    version.save()
    return version


def test_a_candidate_better_on_every_gate_stays_a_candidate_unless_the_policy_promotes(
    author, editor
):  # noqa: ANN001
    active = _measured(_active_with(_published(author, 1)))
    _policy(by=editor)
    candidate = _measured(_candidate(active), style=0.7)

    (event,) = retrain_candidate_settle(version=candidate)

    candidate.refresh_from_db()
    assert candidate.status == "candidate" and event.kind == "kept"
    assert "leaves the promotion to a person" in event.reason
    assert all(g["passed"] for g in event.gates)
    assert retrain_candidate_settle(version=candidate) == []  # decided once


def test_the_policy_promotes_a_candidate_better_on_every_gate(author, editor):
    active = _measured(_active_with(_published(author, 1)))
    _policy(by=editor, promote_when_better=True)
    candidate = _measured(_candidate(active))

    (event,) = retrain_candidate_settle(version=candidate)

    candidate.refresh_from_db()
    assert event.kind == "promoted" and candidate.status == ModelVersion.Status.ACTIVE
    assert AuditEvent.objects.filter(action="model.promoted", actor=editor).exists()


@pytest.mark.parametrize(
    ("change", "failed_gate"),
    [
        ({"perplexity": 15.0}, "Validation perplexity relative to the base model"),
        ({"grounding": 0.4}, "Draft quality: Grounding"),
        ({"passed": False}, "Bias audit passed"),
    ],
)
def test_a_candidate_worse_on_one_gate_is_never_promoted(author, editor, change, failed_gate):  # noqa: ANN001
    active = _measured(_active_with(_published(author, 1)))
    _policy(by=editor, promote_when_better=True)
    perplexity = change.pop("perplexity", 12.0)
    candidate = _measured(_candidate(active, perplexity=perplexity), **change)

    (event,) = retrain_candidate_settle(version=candidate)

    candidate.refresh_from_db()
    assert event.kind == "kept" and candidate.status == "candidate"
    assert failed_gate in event.reason
    assert [g["gate"] for g in event.gates if not g["passed"]] == [
        g for g in [g["gate"] for g in promotion_gates(candidate, active)] if failed_gate in g
    ]


def test_a_clinical_candidate_needs_a_passed_memorisation_test(officer):
    active = _measured(with_memorisation(_active_with([], channel="clinical"), passed=True))
    _policy("clinical", by=officer, promote_when_better=True)
    candidate = with_memorisation(_measured(_candidate(active)), passed=False)

    (event,) = retrain_candidate_settle(version=candidate)

    assert event.kind == "kept" and "Memorisation test passed" in event.reason


def test_the_decision_waits_for_the_active_versions_benchmark_beside_the_candidates(author, editor):  # noqa: ANN001
    held = make_post(author, status=Post.Status.PUBLISHED, title="Held out")
    Post.objects.filter(id=held.id).update(split=Post.Split.VALIDATION)
    active = _measured(_active_with(_published(author, 1)))
    ModelVersion.objects.filter(id=active.id).update(
        draft_quality_at=timezone.now() - dt.timedelta(days=3)
    )
    _policy(by=editor, promote_when_better=True)
    candidate = _measured(_candidate(active))

    assert retrain_candidate_settle(version=candidate) == []  # the active one is measured again
    assert "waiting for its evaluations" in retrain_due(retrain_policy_for("general")).reason
    _measured(ModelVersion.objects.get(id=active.id))
    (event,) = retrain_candidate_settle(version=active)
    assert event.kind == "promoted" and event.version == candidate


def test_a_scheduled_candidate_queues_the_active_versions_benchmark_again(
    author, monkeypatch, django_capture_on_commit_callbacks
):  # noqa: ANN001
    from training.services.retraining import on_scheduled_version_registered

    sent = []
    monkeypatch.setattr(tasks.model_version_quality_evaluate_task, "delay", sent.append)
    active = _active_with(_published(author, 1))
    candidate = _candidate(active)

    with django_capture_on_commit_callbacks(execute=True):
        on_scheduled_version_registered(candidate)

    assert sent == [active.id]


# --- The page ----------------------------------------------------------------------------------


def test_the_models_page_shows_the_schedule_and_saves_it(client, editor, author):
    _active_with(_published(author, 1))
    client.force_login(editor)

    page = client.get(reverse("training:versions"))
    saved = client.post(
        reverse("training:retrain_policy", args=["general"]),
        {"enabled": "on", "min_new_items": "2", "quiet_hour": "4"},
    )
    refused = client.post(
        reverse("training:retrain_policy", args=["general"]), {"enabled": "on", "quiet_hour": "4"}
    )
    after = client.get(reverse("training:versions")).content.decode()

    assert page.status_code == 200 and 'id="retraining-general"' in page.content.decode()
    assert saved.status_code == 302
    assert refused.status_code == 400 and "Say when to retrain" in refused.content.decode()
    assert "Not due: 0 of 2 new posts" in after
    assert client.post(reverse("training:retrain_policy", args=["clinical"]), {}).status_code == 404


def test_the_ai_dashboard_says_when_the_next_scheduled_run_starts_and_why(client, editor, author):
    _active_with(_published(author, 1))
    _policy(by=editor, min_new_items=1)
    _published(author, 2)
    client.force_login(editor)

    html = client.get(reverse("generation:dashboard")).content.decode()

    assert "<strong>Scheduled retraining:</strong> due, starts" in html
    assert "2 new posts since" in html and "#retraining-general" in html
