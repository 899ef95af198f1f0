"""The draft-quality benchmark on the registry's pages: the version page's table and its
"Measure draft quality" button, and the promotion page's advice (issue 13).

No model runs here: a report is stored as the benchmark stores one, and asking for a new one
only enqueues after commit (`django_capture_on_commit_callbacks` shows what would be sent).
"""

from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import quality
from posts.models import Post
from tests.training.factories import ModelVersionFactory
from training.models import ModelVersion
from training.services.quality import FORMAT, draft_quality_table
from training.services.registry import model_version_promote

pytestmark = pytest.mark.django_db

V = ModelVersion.Status


def quality_row(label: str, **changes: float | None) -> dict:
    """One setup's row with plausible figures; every COLUMNS key is present."""
    row = {
        "label": label, "drafts": 5, "bleu": 4.2, "rouge_l": 0.151, "style_fidelity": 0.402,
        "grounding": 0.31, "distinct_2": 0.81, "distinct_3": 0.9, "repeated_4gram": 0.04,
        "loop_rate": 0.0, "meta_talk_rate": 0.0, "raw_meta_talk_rate": 0.2,
        "ends_whole_rate": 1.0, "within_length_rate": 0.8, "complete_rate": 0.8,
        "guard_pass_rate": 1.0, "words": 120.0, "seconds": 14.5, "tokens_per_s": 22.0,
        "first_token_s": 0.12,
    }  # fmt: skip
    return {**row, **changes}


def report(**full_workflow: float | None) -> dict:
    """A stored report in the benchmark's format; `full_workflow` changes the tuned + retrieval
    row. The full workflow has the best ROUGE-L and style, base prompt-only the worst loops."""
    return {
        "format": FORMAT,
        "rows": [
            quality_row(quality.BASE_PROMPT_ONLY, rouge_l=0.101, loop_rate=0.4),
            quality_row(quality.BASE_RETRIEVAL, rouge_l=0.122),
            quality_row(quality.TUNED, rouge_l=0.133, style_fidelity=0.455),
            quality_row(
                quality.TUNED_RETRIEVAL,
                **{"rouge_l": 0.187, "style_fidelity": 0.512, "bleu": None, **full_workflow},
            ),
        ],
        "briefs": 5,
        "post_ids": [1, 2, 3, 4, 5],
        "sampling": {"max_new_tokens": 200, "seed": 13},
        "seeds": [13, 14, 15, 16, 17],
        "retrieval_k": 4,
        "max_revisions": 1,
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "adapter": "general-v1",
        "code_version": "abc123def456",
        "seconds": 290.0,
        "drafts": [],
    }


def measured(version: ModelVersion, **full_workflow: float | None) -> ModelVersion:
    version.draft_quality, version.draft_quality_at = report(**full_workflow), timezone.now()
    version.save(update_fields=["draft_quality", "draft_quality_at"])
    return version


def version_url(version: ModelVersion, name: str = "version") -> str:
    return reverse(f"training:{name}", args=[version.id])


# --- The table


def test_the_table_marks_the_best_of_each_metric_in_its_direction() -> None:
    table = draft_quality_table(report())
    by_key = {m["key"]: m for m in table["metrics"]}

    assert [s["label"] for s in table["setups"]] == [label for label, _, _ in quality.SETUPS]
    assert [c["value"] for c in by_key["rouge_l"]["cells"]] == ["0.101", "0.122", "0.133", "0.187"]
    assert [c["best"] for c in by_key["rouge_l"]["cells"]] == [False, False, False, True]
    # Lower is better for loops: the three at 0% tie for best, base prompt-only's 40% does not.
    assert [c["best"] for c in by_key["loop_rate"]["cells"]] == [False, True, True, True]
    # The full workflow's BLEU is None: shown as a dash and never best.
    assert by_key["bleu"]["cells"][3] == {"value": "—", "best": False}
    # Words has no direction, and a row where every setup is equal has no winner.
    assert not any(c["best"] for c in by_key["words"]["cells"])
    assert not any(c["best"] for c in by_key["guard_pass_rate"]["cells"])
    assert (table["briefs"], table["tokens"]) == (5, 200)


def test_values_that_read_alike_tie_for_best() -> None:
    # 0.5121 and 0.5124 both show as 0.512: bolding one of two equal-looking cells would mislead.
    rows = report(style_fidelity=0.5121)["rows"]
    rows[2]["style_fidelity"] = 0.5124
    table = draft_quality_table({**report(), "rows": rows})
    style = next(m for m in table["metrics"] if m["key"] == "style_fidelity")
    assert [c["best"] for c in style["cells"]] == [False, False, True, True]


def test_no_report_or_one_in_another_format_makes_no_table() -> None:
    assert draft_quality_table(None) is None
    assert draft_quality_table({**report(), "format": FORMAT + 1}) is None


def test_the_version_page_shows_the_benchmark_and_highlights_the_best(client, editor) -> None:  # noqa: ANN001
    version = measured(ModelVersionFactory())
    client.force_login(editor)
    response = client.get(version_url(version))
    html = response.content.decode()

    assert response.status_code == 200 and response.context["quality"]["briefs"] == 5
    assert "Draft quality" in html and "tuned + retrieval" in html and "ROUGE-L F" in html
    assert '<td class="best"><strong>0.187</strong>' in html  # the full workflow's ROUGE-L
    assert '<td class="best"><strong>0.512</strong>' in html  # and its style fidelity
    assert "<td>0.101</td>" in html  # base prompt-only's ROUGE-L: shown, not highlighted
    assert "5 held-out briefs" in html and "200 new tokens" in html
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in html and "measured " in html
    assert "Measure draft quality" not in html and "Measure again" in html


def test_a_version_without_a_benchmark_offers_to_measure_it(client, editor) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(editor)
    html = client.get(version_url(version)).content.decode()
    assert "Not measured yet" in html and "Measure draft quality" in html
    assert f'action="{version_url(version, "quality")}"' in html


def test_an_archived_version_offers_no_button(client, editor) -> None:  # noqa: ANN001
    version = ModelVersionFactory(status=V.ARCHIVED)
    client.force_login(editor)
    html = client.get(version_url(version)).content.decode()
    assert "Not measured yet" in html and version_url(version, "quality") not in html


# --- Asking for it


@pytest.fixture
def sent(monkeypatch) -> list:  # noqa: ANN001
    """What the benchmark task was sent: a stand-in, so a callback sends nothing to the broker."""
    from training import tasks

    sent: list = []
    task = SimpleNamespace(delay=sent.append)
    monkeypatch.setattr(tasks, "model_version_quality_evaluate_task", task)
    return sent


def test_measuring_enqueues_the_benchmark_after_commit(
    client, editor, sent, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(version_url(version, "quality"), follow=True)
    assert response.redirect_chain == [(version_url(version), 302)]
    assert "Draft-quality benchmark of" in response.content.decode()
    assert len(callbacks) == 1 and sent == []  # nothing is sent before the commit
    callbacks[0]()
    assert sent == [version.id]


def test_an_archived_version_is_not_measured(
    client, editor, sent, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    version = ModelVersionFactory(status=V.ARCHIVED)
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(version_url(version, "quality"), follow=True)
    assert "is archived" in response.content.decode()
    assert callbacks == [] and sent == []


@pytest.mark.parametrize("persona", ["author", "outsider"])
def test_people_who_manage_no_models_cannot_ask_for_it(
    client, request, persona, sent, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    version = ModelVersionFactory()
    client.force_login(request.getfixturevalue(persona))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(version_url(version, "quality"))
    assert response.status_code == 403 and callbacks == [] and sent == []


def test_an_editor_cannot_ask_for_a_clinical_versions_benchmark(client, editor, sent) -> None:  # noqa: ANN001
    version = ModelVersionFactory(channel=Post.Channel.CLINICAL)
    client.force_login(editor)
    assert client.post(version_url(version, "quality")).status_code == 404
    assert client.get(version_url(version, "quality")).status_code == 405  # POST only
    assert sent == []


# --- The promotion page


def test_the_promote_page_compares_the_full_workflow_and_still_promotes(client, editor) -> None:  # noqa: ANN001
    active = measured(ModelVersionFactory(), rouge_l=0.150, loop_rate=0.2)
    model_version_promote(version=active, by=editor)
    candidate = measured(ModelVersionFactory(), rouge_l=0.187, loop_rate=0.4)
    client.force_login(editor)
    response = client.get(version_url(candidate, "promote"))
    html = response.content.decode()

    rows = {r["header"]: r for r in response.context["quality"]["rows"]}
    assert (rows["ROUGE-L F"]["candidate"], rows["ROUGE-L F"]["active"]) == ("0.187", "0.150")
    assert rows["ROUGE-L F"]["better"] is True and rows["4-gram loops"]["better"] is False
    assert '<td class="quality-better">0.187 ▲ better</td>' in html
    assert '<td class="quality-worse">40% ▼ worse</td>' in html  # more loops: lower is better
    assert "no draft-quality benchmark yet" not in html

    response = client.post(version_url(candidate, "promote"), {"confirmed": "on"})
    assert response.url == reverse("training:versions")
    candidate.refresh_from_db()
    assert candidate.status == V.ACTIVE


def test_the_promote_page_says_which_version_has_no_benchmark_and_still_promotes(
    client, editor
) -> None:  # noqa: ANN001
    active = ModelVersionFactory()
    model_version_promote(version=active, by=editor)
    candidate = measured(ModelVersionFactory())
    client.force_login(editor)
    html = client.get(version_url(candidate, "promote")).content.decode()
    assert f"The active version, {active}, has no draft-quality benchmark yet" in html
    assert "The candidate" not in html and "0.187" in html  # the candidate's row is still shown

    unmeasured = ModelVersionFactory()
    response = client.get(version_url(unmeasured, "promote"))
    html = response.content.decode()
    assert f"The candidate, {unmeasured}, has no draft-quality benchmark yet" in html
    assert f"The active version, {active}, has no draft-quality benchmark yet" in html
    assert response.context["quality"]["rows"] == [] and response.context["blockers"] == []

    # Advice, not a blocker: the unmeasured candidate is promoted all the same.
    response = client.post(version_url(unmeasured, "promote"), {"confirmed": "on"})
    assert response.url == reverse("training:versions")
    unmeasured.refresh_from_db()
    assert unmeasured.status == V.ACTIVE
