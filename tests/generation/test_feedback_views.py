"""Thumbs and scores on the run page, the voice guide page, and the dashboard with experiments.

Finished runs are rows made directly, with the fields the services store.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from generation.models import Experiment, Feedback, GenerationRun, VoiceGuide
from posts.models import Post
from tests.accounts.factories import UserFactory
from tests.compliance.factories import with_totp
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(officer):  # noqa: ANN001, ANN201
    return with_totp(officer)


def finished_run(author, *, version=None, channel: str = "general", **fields) -> GenerationRun:  # noqa: ANN001, ANN003
    post = make_post(
        author, title="AI draft", body_markdown="one two", source=Post.Source.AI_ASSISTED
    )
    now = timezone.now()
    return GenerationRun.objects.create(
        channel=channel, brief={"topic": "Tea <b>time</b>"}, requested_by=author, base_model="m",
        model_version=version, status="succeeded", output="one two", post=post,
        started_at=now - timezone.timedelta(seconds=4), finished_at=now, tokens_per_s=12.0,
        **fields,
    )  # fmt: skip


def run_url(run: GenerationRun) -> str:
    return reverse("generation:run", args=[run.id])


def feedback_url(run: GenerationRun) -> str:
    return reverse("generation:feedback", args=[run.id])


# --- The run page: scores and thumbs


def test_the_run_page_shows_both_scores_as_percentages(client, author) -> None:  # noqa: ANN001
    run = finished_run(author, style_fidelity=0.734, grounding=0.5)
    client.force_login(author)
    html = client.get(run_url(run)).content.decode()
    assert "Style fidelity" in html and "Grounding" in html
    assert "73%" in html and "width: 73%" in html
    assert "50%" in html and "width: 50%" in html


def test_a_score_not_computed_shows_a_dash(client, author) -> None:  # noqa: ANN001
    run = finished_run(author, style_fidelity=None, grounding=0.9)
    client.force_login(author)
    response = client.get(run_url(run))
    assert [s["percent"] for s in response.context["scores"]] == [None, 90]
    assert "not scored" in response.content.decode()


def test_an_active_run_shows_no_scores_or_thumbs(client, author) -> None:  # noqa: ANN001
    run = GenerationRun.objects.create(
        channel="general", brief={"topic": "t"}, requested_by=author, base_model="m"
    )
    client.force_login(author)
    html = client.get(run_url(run)).content.decode()
    assert "Style fidelity" not in html and feedback_url(run) not in html
    response = client.post(feedback_url(run), {"thumbs": "up"}, follow=True)
    assert "once it is finished" in response.content.decode()
    assert not Feedback.objects.exists()


def test_thumbs_are_stored_replaced_and_shown(client, author, editor) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    response = client.post(feedback_url(run), {"thumbs": "down", "comment": "Too <stiff>"})
    assert response.status_code == 302 and response["Location"] == run_url(run)
    response = client.post(
        feedback_url(run), {"thumbs": "up", "comment": "Better <b>now</b>"}, follow=True
    )
    html = response.content.decode()
    feedback = Feedback.objects.get()
    assert (
        feedback.user == author and feedback.thumbs_up and feedback.comment == "Better <b>now</b>"
    )
    assert "feedback on this draft is saved" in html
    assert "you gave it a thumbs up" in html and "Better &lt;b&gt;now&lt;/b&gt;" in html
    assert "<b>now</b>" not in html
    client.force_login(editor)
    client.post(feedback_url(run), {"thumbs": "down"})
    summary = client.get(run_url(run)).context["feedback"]
    assert (summary.up, summary.down) == (1, 1) and not summary.mine.thumbs_up


def test_a_bad_thumbs_value_is_refused_with_a_message(client, author) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    response = client.post(feedback_url(run), {"thumbs": "sideways"}, follow=True)
    assert "Choose thumbs up or thumbs down" in response.content.decode()
    assert not Feedback.objects.exists()


def test_others_cannot_rate_a_draft(client, author, outsider, officer) -> None:  # noqa: ANN001
    run = finished_run(author)
    for user in (outsider, UserFactory(roles=[Role.AUTHOR]), officer):
        client.force_login(user)
        assert client.post(feedback_url(run), {"thumbs": "up"}).status_code == 404
        assert client.get(feedback_url(run)).status_code in (404, 405)
    assert not Feedback.objects.exists()


def test_a_viewer_the_service_refuses_gets_a_message(client, author, monkeypatch) -> None:  # noqa: ANN001
    from django.core.exceptions import PermissionDenied

    from generation import views

    def refuse(**kwargs: object) -> None:
        raise PermissionDenied("Only the author of the request or a reviewer may rate this draft.")

    monkeypatch.setattr(views, "feedback_give", refuse)
    run = finished_run(author)
    client.force_login(author)
    response = client.post(feedback_url(run), {"thumbs": "up"}, follow=True)
    assert response.status_code == 200
    assert "Only the author of the request or a reviewer" in response.content.decode()


# --- The voice guide


def test_an_author_saves_and_sees_their_voice_guide(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    voice = reverse("generation:voice")
    assert client.get(voice).status_code == 200
    assert voice in client.get(reverse("generation:new")).content.decode()
    guide = {
        "tone": "warm, <plain>",
        "use_words": "tea\ncalm",
        "avoid_words": "synergy",
        "structure": "short paragraphs",
    }
    response = client.post(voice, guide)
    assert response.status_code == 302
    saved = VoiceGuide.objects.get(author=author)
    assert saved.tone == "warm, <plain>" and saved.avoid_list == ["synergy"]
    html = client.get(voice).content.decode()
    assert "warm, &lt;plain&gt;" in html and "short paragraphs" in html and "<plain>" not in html


def test_an_author_cannot_see_or_edit_another_authors_guide(client, author) -> None:  # noqa: ANN001
    other = UserFactory(roles=[Role.AUTHOR])
    VoiceGuide.objects.create(author=other, tone="secret tone")
    client.force_login(author)
    theirs = reverse("generation:voice") + f"?author={other.id}"
    assert client.get(theirs).status_code == 403
    assert client.post(theirs, {"tone": "mine now"}).status_code == 403
    assert VoiceGuide.objects.get(author=other).tone == "secret tone"
    assert client.get(reverse("generation:voice") + "?author=999999").status_code == 404
    assert client.get(reverse("generation:voice") + "?author=x").status_code == 404


def test_an_editor_edits_another_authors_guide(client, author, editor) -> None:  # noqa: ANN001
    client.force_login(editor)
    theirs = reverse("generation:voice") + f"?author={author.id}"
    assert client.get(theirs).status_code == 200
    response = client.post(
        theirs, {"tone": "brisk", "use_words": "", "avoid_words": "", "structure": ""}
    )
    assert response.status_code == 302 and response["Location"] == theirs
    assert VoiceGuide.objects.get(author=author).tone == "brisk"
    assert not VoiceGuide.objects.filter(author=editor).exists()


def test_people_without_drafting_rights_have_no_voice_page(client, outsider) -> None:  # noqa: ANN001
    client.force_login(outsider)
    assert client.get(reverse("generation:voice")).status_code == 403


# --- The dashboard


def test_the_dashboard_is_for_editors_and_officers_each_on_their_channel(
    client, author, editor, officer
) -> None:  # noqa: ANN001
    dashboard = reverse("generation:dashboard")
    client.force_login(author)
    assert client.get(dashboard).status_code == 403
    client.force_login(editor)
    response = client.get(dashboard)
    assert [s["channel"] for s in response.context["sections"]] == ["general"]
    assert "Clinical channel" not in response.content.decode()
    assert dashboard in client.get(reverse("generation:runs")).content.decode()
    client.force_login(officer)
    assert [s["channel"] for s in client.get(dashboard).context["sections"]] == ["clinical"]


def test_the_dashboard_shows_each_version_with_intervals(client, author, editor) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    now = timezone.now()
    runs = [finished_run(author, version=version) for _ in range(4)]
    for run in runs[:2]:
        run.published_at, run.edit_distance = now, 0.2
        run.save(update_fields=["published_at", "edit_distance"])
    Feedback.objects.create(run=runs[0], user=editor, thumbs_up=True)
    finished_run(author)  # the base model
    client.force_login(editor)
    response = client.get(reverse("generation:dashboard"))
    rows = {r["label"]: r for r in response.context["sections"][0]["versions"]}
    row = rows[str(version)]
    assert row["runs"] == 4 and row["acceptance_n"] == "2/4"
    assert row["acceptance"] == "50% (15–85%)"
    assert row["thumbs_up"].startswith("100% (") and row["edit_distance"] == "0.20 (0.20–0.20)"
    assert row["tokens_per_s"] == "12.0" and row["latency"].endswith(" s")
    assert rows["Base model"]["acceptance"] == "0% (0–79%)"
    assert rows["Base model"]["thumbs_up"] == "—" and rows["Base model"]["edit_distance"] == "—"
    assert "50% (15–85%)" in response.content.decode()


def test_an_editor_starts_and_stops_an_experiment(client, author, editor) -> None:  # noqa: ANN001
    a, b = ModelVersionFactory(), ModelVersionFactory()
    c = ModelVersionFactory()
    client.force_login(editor)
    start = reverse("generation:experiment_start")
    data = {"channel": "general", "name": "Warmer <v2>", "version_a": a.id, "version_b": b.id}
    response = client.post(start, {**data, "share_b": "0.3"}, follow=True)
    experiment = Experiment.objects.get()
    assert experiment.active and experiment.share_b == 0.3 and experiment.version_b == b
    html = response.content.decode()
    assert "Warmer &lt;v2&gt;" in html and "<v2>" not in html
    assert reverse("generation:experiment_stop", args=[experiment.id]) in html
    assert "Stop the running experiment to start another" in html
    # Both arms side by side.
    arms = response.context["sections"][0]["experiments"][0]["arms"]
    assert [arm["arm"] for arm in arms] == ["A", "B"]

    response = client.post(
        start, {**data, "version_b": c.id, "name": "Second", "share_b": "0.5"}, follow=True
    )
    assert "already has an experiment running" in response.content.decode()
    assert Experiment.objects.count() == 1

    response = client.post(reverse("generation:experiment_stop", args=[experiment.id]), follow=True)
    experiment.refresh_from_db()
    assert not experiment.active and experiment.ended_at is not None
    assert "stopped" in response.content.decode() and "ended" in response.content.decode()


def test_a_bad_experiment_is_refused_with_a_message(client, editor) -> None:  # noqa: ANN001
    a, b = ModelVersionFactory(), ModelVersionFactory()
    client.force_login(editor)
    start = reverse("generation:experiment_start")
    data = {
        "channel": "general",
        "name": "",
        "version_a": a.id,
        "version_b": a.id,
        "share_b": "0.5",
    }
    response = client.post(start, data, follow=True)
    assert "two different versions" in response.content.decode()
    response = client.post(start, {**data, "version_b": b.id, "share_b": "1"}, follow=True)
    assert "share of the requests is between 0 and 1" in response.content.decode()
    response = client.post(start, {**data, "version_b": b.id, "share_b": "lots"}, follow=True)
    assert (
        "The experiment was not started. Share of B: Enter a number." in response.content.decode()
    )
    assert not Experiment.objects.exists()


def test_experiments_are_off_limits_to_authors_and_other_channels(client, author, officer) -> None:  # noqa: ANN001
    a, b = ModelVersionFactory(), ModelVersionFactory()
    experiment = Experiment.objects.create(name="e", channel="general", version_a=a, version_b=b)
    data = {"channel": "general", "version_a": a.id, "version_b": b.id, "share_b": "0.5"}
    for user in (author, officer):
        client.force_login(user)
        assert client.post(reverse("generation:experiment_start"), data).status_code == 403
        stop = reverse("generation:experiment_stop", args=[experiment.id])
        assert client.post(stop).status_code == 404
    experiment.refresh_from_db()
    assert experiment.active
