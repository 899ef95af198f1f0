"""Training pages: wiring, channel permissions, status codes, the live partials and query counts.

No worker runs here: starting, resuming and re-evaluating only enqueue after commit, and
`django_capture_on_commit_callbacks` (without execute) shows what would have been sent.
"""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from compliance.audit import Action
from compliance.models import AuditEvent
from posts.models import Post
from tests.compliance.factories import with_totp
from tests.posts.factories import make_post
from tests.training.factories import (
    ModelVersionFactory,
    TrainingRunFactory,
    with_memorisation,
)
from training.models import ModelVersion, TrainingRun
from training.services.registry import model_version_promote

GENERAL, CLINICAL = Post.Channel.GENERAL, Post.Channel.CLINICAL
R, V = TrainingRun.Status, ModelVersion.Status


@pytest.fixture
def officer(officer):  # noqa: ANN001, ANN201
    """The conftest officer with a TOTP device, so the MFA middleware lets them in."""
    return with_totp(officer)


def run_url(run: TrainingRun) -> str:
    return reverse("training:run", args=[run.id])


def version_url(version: ModelVersion, name: str = "version") -> str:
    return reverse(f"training:{name}", args=[version.id])


def start_form(**changes: object) -> dict:
    form = {
        "channel": "general",
        "max_steps": "",
        "epochs": "1",
        "batch_size": "4",
        "max_length": "512",
        "learning_rate": "0.0002",
        "rank": "16",
    }
    return {**form, **changes}


# --- Permissions


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["author", "outsider"])
def test_people_who_manage_no_models_get_403_everywhere(client, request, persona) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(request.getfixturevalue(persona))
    for url in (
        reverse("training:runs"),
        reverse("training:versions"),
        run_url(version.run),
        version_url(version),
        version_url(version, "promote"),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(version_url(version, "promote"), {"confirmed": "on"}).status_code == 403
    assert client.post(reverse("training:runs"), start_form()).status_code == 403
    version.refresh_from_db()
    assert version.status == V.CANDIDATE and not TrainingRun.objects.filter(status=R.QUEUED)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:  # noqa: ANN001
    response = client.get(reverse("training:runs"))
    assert response.status_code == 302 and reverse("account_login") in response.url


@pytest.mark.django_db
def test_an_editor_sees_general_runs_and_versions_but_nothing_clinical(client, editor) -> None:  # noqa: ANN001
    general = ModelVersionFactory(channel=GENERAL)
    clinical = ModelVersionFactory(channel=CLINICAL)
    client.force_login(editor)

    runs_page = client.get(reverse("training:runs"))
    assert [r.id for r in runs_page.context["recent"]] == [general.run_id]
    assert [v for v, _ in runs_page.context["form"].fields["channel"].choices] == ["general"]
    sections = client.get(reverse("training:versions")).context["sections"]
    assert [s["channel"] for s in sections] == [GENERAL]
    assert [row["version"].id for row in sections[0]["rows"]] == [general.id]
    # Another channel's pages do not exist for them, and its samples never reach the page.
    assert client.get(run_url(clinical.run)).status_code == 404
    assert client.get(version_url(clinical)).status_code == 404
    assert client.post(version_url(clinical, "archive")).status_code == 404
    assert "Training" in runs_page.content.decode()  # the navigation item


@pytest.mark.django_db
def test_an_officer_sees_clinical_only(client, officer) -> None:  # noqa: ANN001
    general = ModelVersionFactory(channel=GENERAL)
    clinical = ModelVersionFactory(channel=CLINICAL)
    client.force_login(officer)
    sections = client.get(reverse("training:versions")).context["sections"]
    assert [s["channel"] for s in sections] == [CLINICAL]
    assert client.get(version_url(clinical)).status_code == 200
    assert client.get(version_url(general)).status_code == 404
    assert client.get(run_url(general.run)).status_code == 404


@pytest.mark.django_db
def test_someone_with_both_roles_sees_both_channels(client, editor) -> None:  # noqa: ANN001
    from accounts.roles import Role
    from accounts.services import user_set_roles

    user_set_roles(user=editor, roles=[Role.EDITOR, Role.COMPLIANCE_OFFICER])
    with_totp(editor)
    client.force_login(editor)
    sections = client.get(reverse("training:versions")).context["sections"]
    assert [s["channel"] for s in sections] == [GENERAL, CLINICAL]


# --- Starting, the queue, cancelling and resuming


@pytest.mark.django_db
def test_starting_a_run_queues_it_and_enqueues_the_worker_task_after_commit(
    client, editor, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    TrainingRunFactory(channel=CLINICAL)  # already waiting: the new run is second
    author = make_post(editor, status=Post.Status.PUBLISHED).author
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("training:runs"), start_form(max_steps="30", authors=[author.id])
        )
    run = TrainingRun.objects.get(requested_by=editor)
    assert response.status_code == 302 and response.url == run_url(run)
    assert run.status == R.QUEUED and run.channel == GENERAL and run.author_ids == [author.id]
    assert run.hyperparameters["max_steps"] == 30 and run.hyperparameters["rank"] == 16
    assert len(callbacks) == 1  # the gpu task, sent once the run row is committed
    page = client.get(response.url)
    assert "2nd in line" in page.content.decode()


@pytest.mark.django_db
def test_bad_hyperparameters_are_refused_with_the_trainers_reason(client, editor) -> None:  # noqa: ANN001
    client.force_login(editor)
    response = client.post(reverse("training:runs"), start_form(batch_size="0"))
    assert response.status_code == 400
    assert "batch_size" in response.content.decode()  # the trainer's sentence names the setting
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_an_editor_cannot_start_a_clinical_run(client, editor) -> None:  # noqa: ANN001
    client.force_login(editor)
    response = client.post(reverse("training:runs"), start_form(channel="clinical"))
    assert response.status_code == 400 and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_dataset_preview_counts_what_a_run_would_train_on(client, editor) -> None:  # noqa: ANN001
    for n in range(3):
        post = make_post(editor, title=f"Walks {n}", status=Post.Status.PUBLISHED)
        Post.objects.filter(id=post.id).update(split="validation" if n == 0 else "train")
    client.force_login(editor)
    response = client.get(
        reverse("training:preview"), {"channel": "general"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.context["preview"]["train"] == 2
    assert response.context["preview"]["validation"] == 1
    assert client.get(reverse("training:preview"), {"channel": "clinical"}).status_code == 404


@pytest.mark.django_db
def test_an_officer_previews_the_clinical_dataset_only(client, officer) -> None:  # noqa: ANN001
    client.force_login(officer)
    response = client.get(reverse("training:preview"), {"channel": "clinical"})
    assert response.status_code == 200 and response.context["channel"] == CLINICAL
    assert client.get(reverse("training:preview"), {"channel": "general"}).status_code == 404


@pytest.mark.django_db
def test_the_queue_shows_each_waiting_runs_place_and_polls_while_runs_are_active(
    client, editor
) -> None:  # noqa: ANN001
    first, second = TrainingRunFactory(), TrainingRunFactory()
    running = TrainingRunFactory(status=R.RUNNING, step=5, total_steps=20, phase="Training")
    client.force_login(editor)
    response = client.get(reverse("training:runs"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert [(e["run"].id, e["in_line"]) for e in response.context["queue"]] == [
        (first.id, "next in line"),
        (second.id, "2nd in line"),
    ]
    assert [r.id for r in response.context["running"]] == [running.id]
    assert 'hx-trigger="every 2s"' in html and 'value="25"' in html  # 5 of 20 steps

    assert "2nd in line" in client.get(run_url(second)).content.decode()

    TrainingRun.objects.update(status=R.SUCCEEDED)
    html = client.get(reverse("training:runs"), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html  # nothing active: the partial stops polling


@pytest.mark.django_db
def test_the_runs_page_runs_a_fixed_number_of_queries(
    client, editor, django_assert_max_num_queries
) -> None:  # noqa: ANN001
    for _ in range(5):
        TrainingRunFactory()
        TrainingRunFactory(status=R.RUNNING)
        ModelVersionFactory()
    client.force_login(editor)
    client.get(reverse("training:runs"))  # warm up: session, permissions
    # Session, user, groups, two permission reads, the queue, running, recent, the authors
    # check: not one per run, since versions and requesters come with the runs.
    with django_assert_max_num_queries(10):
        response = client.get(reverse("training:runs"))
    assert response.status_code == 200 and len(response.context["recent"]) == 5


@pytest.mark.django_db
def test_cancelling_a_queued_run_ends_it(client, editor) -> None:  # noqa: ANN001
    run = TrainingRunFactory()
    client.force_login(editor)
    response = client.post(reverse("training:cancel", args=[run.id]))
    assert response.url == run_url(run)
    run.refresh_from_db()
    assert run.status == R.CANCELLED
    # Cancelling again is refused with the service's reason, not a crash.
    response = client.post(reverse("training:cancel", args=[run.id]), follow=True)
    assert "has already ended" in response.content.decode()


@pytest.mark.django_db
def test_resuming_a_failed_run_queues_it_again(
    client, editor, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    run = TrainingRunFactory(status=R.FAILED, error="Out of memory.", step=4, total_steps=20)
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("training:resume", args=[run.id]))
    run.refresh_from_db()
    assert run.status == R.QUEUED and run.error == "" and len(callbacks) == 1


# --- The run page


@pytest.mark.django_db
def test_the_run_page_draws_the_loss_chart_checkpoints_and_the_chosen_one(client, editor) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(editor)
    response = client.get(run_url(version.run))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<canvas" in html and "chart.umd.min.js" in html
    assert [s["name"] for s in response.context["chart"]["series"]] == ["training loss"]
    rows = [(c["step"], c["val_perplexity"], c["chosen"]) for c in response.context["checkpoints"]]
    assert rows == [(10, 15.9, False), (20, 14.2, True)]  # step 20 won, as its version says
    assert "chosen for" in html and version.dataset.fingerprint[:12] in html
    assert "hx-trigger" not in html  # it has ended: no polling


@pytest.mark.django_db
def test_a_failed_run_shows_its_sentence_and_the_traceback_folded(client, editor) -> None:  # noqa: ANN001
    run = TrainingRunFactory(
        status=R.FAILED,
        error="Out of memory: try a smaller batch size or sequence length.",
        traceback="Traceback (most recent call last):\n  <torch> OutOfMemoryError",
    )
    client.force_login(editor)
    html = client.get(run_url(run)).content.decode()
    assert "Out of memory: try a smaller batch size or sequence length." in html
    assert "<details><summary>Traceback</summary>" in html
    assert "&lt;torch&gt;" in html  # escaped, not markup
    assert reverse("training:resume", args=[run.id]) in html
    assert reverse("training:cancel", args=[run.id]) not in html


@pytest.mark.django_db
def test_the_run_partial_polls_while_running_and_stops_when_the_run_ended(client, editor) -> None:  # noqa: ANN001
    run = TrainingRunFactory(status=R.RUNNING, step=10, total_steps=40, eta_s=185, phase="Training")
    client.force_login(editor)
    response = client.get(run_url(run), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert [t.name for t in response.templates][0] == "training/partials/run_live.html"
    assert 'hx-trigger="every 2s"' in html and "about 3 min left" in html
    assert reverse("training:cancel", args=[run.id]) in html

    TrainingRun.objects.filter(id=run.id).update(status=R.SUCCEEDED)
    html = client.get(run_url(run), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in html and "hx-trigger" not in html  # the swap ends the polling
    assert reverse("training:cancel", args=[run.id]) not in html


# --- Versions


@pytest.mark.django_db
def test_the_versions_page_highlights_the_active_one_and_charts_perplexity(
    client, editor, django_assert_max_num_queries
) -> None:  # noqa: ANN001
    versions = [ModelVersionFactory() for _ in range(4)]
    model_version_promote(version=versions[1], by=editor)
    client.force_login(editor)
    client.get(reverse("training:versions"))  # warm up
    # Session, user, groups, permissions, versions (with runs), history, the retraining policy
    # and its history: not one per version.
    with django_assert_max_num_queries(10):
        response = client.get(reverse("training:versions"))
    html = response.content.decode()
    section = response.context["sections"][0]
    assert section["active"] == versions[1] and len(section["rows"]) == 4
    assert "34.0% lower" in html  # 14.2 vs 21.5
    assert [s["name"] for s in section["chart"]["series"]] == ["tuned", "base"]
    assert html.count("<canvas") == 1 and html.count("<caption>") == 2  # one table per series
    assert reverse("training:rollback", args=["general"]) in html


@pytest.mark.django_db
def test_the_version_page_shows_samples_checkpoints_memorisation_and_lineage(
    client, officer
) -> None:  # noqa: ANN001
    version = with_memorisation(ModelVersionFactory(channel=CLINICAL), passed=False)
    version.samples[0]["tuned"] = "<script>alert(1)</script>"
    version.save(update_fields=["samples"])
    client.force_login(officer)
    html = client.get(version_url(version)).content.decode()
    assert "Chose step 20: lowest validation perplexity" in html
    assert "Base text 2." in html and "Tuned text 3." in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert "canary" in html and "failed" in html and "80%" in html  # the worst item's bar
    assert version.adapter_uri in html and version.code_version in html
    assert version_url(version, "promote") in html


@pytest.mark.django_db
def test_the_promote_page_compares_the_candidate_with_the_active_version(client, editor) -> None:  # noqa: ANN001
    active = ModelVersionFactory(metrics={"val_perplexity": 17.5, "base_val_perplexity": 21.5})
    model_version_promote(version=active, by=editor)
    candidate = ModelVersionFactory()
    client.force_login(editor)
    response = client.get(version_url(candidate, "promote"))
    html = response.content.decode()
    assert response.context["active"] == active
    assert "14.20" in html and "17.50" in html and "21.50" in html
    assert "I have compared these metrics" in html and response.context["blockers"] == []


@pytest.mark.django_db
def test_an_untested_clinical_version_shows_its_blocker_and_no_button(client, officer) -> None:  # noqa: ANN001
    version = ModelVersionFactory(channel=CLINICAL)
    client.force_login(officer)
    html = client.get(version_url(version, "promote")).content.decode()
    assert "needs a passed memorisation test" in html
    assert "I have compared these metrics" not in html
    response = client.post(version_url(version, "promote"), {"confirmed": "on"})
    assert response.status_code == 400  # the service refuses it too
    version.refresh_from_db()
    assert version.status == V.CANDIDATE


@pytest.mark.django_db
def test_promoting_needs_the_checkbox(client, editor) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(editor)
    response = client.post(version_url(version, "promote"), {"reason": "Better"})
    assert response.status_code == 400
    assert "compared the metrics" in response.content.decode()
    version.refresh_from_db()
    assert version.status == V.CANDIDATE


@pytest.mark.django_db
def test_an_officer_promotes_a_tested_clinical_version_and_it_is_audited(client, officer) -> None:  # noqa: ANN001
    version = with_memorisation(ModelVersionFactory(channel=CLINICAL), passed=True)
    client.force_login(officer)
    response = client.post(
        version_url(version, "promote"), {"confirmed": "on", "reason": "Lower perplexity"}
    )
    assert response.url == reverse("training:versions")
    version.refresh_from_db()
    assert version.status == V.ACTIVE
    event = AuditEvent.objects.get(action=Action.MODEL_PROMOTED)
    assert event.actor == officer and event.object_id == str(version.id)


@pytest.mark.django_db
def test_rolling_back_reactivates_the_previous_version(client, editor) -> None:  # noqa: ANN001
    first, second = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=first, by=editor)
    model_version_promote(version=second, by=editor)
    client.force_login(editor)
    url = reverse("training:rollback", args=["general"])

    response = client.post(url, {"reason": ""}, follow=True)
    assert "Say why you roll back" in response.content.decode()
    second.refresh_from_db()
    assert second.status == V.ACTIVE  # no reason, no rollback

    response = client.post(url, {"reason": "v2 rambles"})
    assert response.url == reverse("training:versions")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (V.ACTIVE, V.CANDIDATE)
    assert AuditEvent.objects.filter(action=Action.MODEL_ROLLED_BACK).exists()
    # An editor cannot roll back the clinical channel.
    response = client.post(reverse("training:rollback", args=["clinical"]), {"reason": "x"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_archiving_a_candidate_and_refusing_to_archive_the_active_one(client, editor) -> None:  # noqa: ANN001
    candidate, active = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=active, by=editor)
    client.force_login(editor)
    response = client.post(version_url(candidate, "archive"))
    assert response.url == reverse("training:versions")
    response = client.post(version_url(active, "archive"), follow=True)
    assert "before archiving the active one" in response.content.decode()
    candidate.refresh_from_db()
    active.refresh_from_db()
    assert (candidate.status, active.status) == (V.ARCHIVED, V.ACTIVE)


@pytest.mark.django_db
def test_re_evaluating_enqueues_the_evaluation_task(
    client, editor, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # noqa: ANN001
    from training import tasks

    sent = []  # a stand-in for the task, so running the callback sends nothing to the broker
    monkeypatch.setattr(tasks, "model_version_evaluate_task", SimpleNamespace(delay=sent.append))
    version = ModelVersionFactory()
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(version_url(version, "evaluate"), follow=True)
    assert "Re-evaluation of" in response.content.decode()
    assert len(callbacks) == 1 and sent == []  # nothing is sent before the commit
    callbacks[0]()
    assert sent == [version.id]


# --- Admin


@pytest.mark.django_db
def test_the_admin_is_read_only_and_hides_other_channels(client, editor) -> None:  # noqa: ANN001
    general = ModelVersionFactory(channel=GENERAL)
    clinical = ModelVersionFactory(channel=CLINICAL)
    client.force_login(editor)
    response = client.get(reverse("admin:training_modelversion_changelist"))
    assert response.status_code == 200
    shown = {v.id for v in response.context["cl"].result_list}
    assert shown == {general.id}
    assert clinical.id not in shown
    assert client.get(reverse("admin:training_modelversion_add")).status_code == 403
    response = client.get(reverse("admin:training_modelversion_change", args=[general.id]))
    assert response.status_code == 200 and b'name="status"' not in response.content
    for model in ("trainingrun", "datasetsnapshot", "promotion"):
        assert client.get(reverse(f"admin:training_{model}_changelist")).status_code == 200
