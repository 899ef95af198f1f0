"""Model cards: the Hugging Face layout from the registry's rows, no text of posts or notes,
exported as README.md beside the adapter, shown on the version and promotion pages."""

import pytest
from django.urls import reverse

from posts.models import Post
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory, with_memorisation
from training import bias
from training.services.cards import model_card, model_card_export
from training.storage import default_storage

pytestmark = pytest.mark.django_db

SECRET_LINE = "The kettle whistles at six and the notebook waits on the pillow."
SECTIONS = [
    "## Model Details",
    "### Model Description",
    "## Uses",
    "### Direct Use",
    "### Out-of-Scope Use",
    "## Bias, Risks, and Limitations",
    "## Training Details",
    "### Training Data",
    "#### Training Hyperparameters",
    "## Evaluation",
    "### Results",
    "## Lineage",
]


def _audited(version, *, failed: bool = False):  # noqa: ANN001, ANN202
    pairs = bias.counterfactual_pairs(3)
    low = -0.5 if failed else 0.2
    scored = [
        (p, bias.Scores(0.3 + 0.01 * i, 0.01, 60, False), bias.Scores(low, 0.01, 58, False))
        for i, p in enumerate(pairs)
    ]
    groups = bias.group_gaps(scored, {"sentiment": 0.3, "toxicity": 0.2, "refused": 0.25})
    version.bias_audit = {
        "format": bias.FORMAT,
        "groups": groups,
        "failed": [g["group"] for g in groups if g["failed"]],
        "pairs": [],
        "tokens": 120,
    }
    version.bias_audit_passed = not version.bias_audit["failed"]
    version.save()
    return version


def test_the_card_has_the_hugging_face_sections_and_metadata(author):
    post = make_post(author, status=Post.Status.PUBLISHED, body_markdown=SECRET_LINE)
    version = ModelVersionFactory()
    version.dataset.members = [
        {"id": f"post:{post.id}", "kind": "post", "split": "train", "content_hash": "h",
         "tokens": 20},
    ]  # fmt: skip
    version.dataset.save()

    card = model_card(_audited(version))

    head, _, body = card.partition("\n---\n")
    assert head.startswith('---\nbase_model: "HuggingFaceTB/SmolLM2-135M-Instruct"')
    assert 'library_name: "peft"' in head
    for section in SECTIONS:
        assert f"\n{section}\n" in body, section
    assert f"sha256 `{version.dataset.fingerprint}`" in body  # lineage: the snapshot's hash
    assert "`abc123def456`" in body  # and the code version
    assert "| Validation perplexity | 14.20 | 21.50 |" in body
    day = f"{post.published_at or post.created_at:%Y-%m-%d}"
    assert f"Posts' dates: {day} to {day}" in body
    assert "| post | train | 1 |" in body
    assert "#### Bias and toxicity" in body and "| gender | 3 |" in body
    assert "No group's gap is beyond its threshold." in body
    assert SECRET_LINE not in card  # counts and dates, never a post's text


def test_a_clinical_card_reports_the_memorisation_test_and_a_failed_audit():
    version = with_memorisation(ModelVersionFactory(channel="clinical"), passed=True)

    card = model_card(_audited(version, failed=True))

    assert "#### Memorisation" in card and "passed: the highest verbatim continuation" in card
    assert "Diagnosis, treatment or any decision about a patient's care." in card
    assert "It failed for: gender, age, ethnicity, religion, disability" in card
    assert "- Its bias audit failed (see Evaluation): it cannot be promoted." in card


def test_the_card_is_exported_as_readme_beside_the_adapter(tmp_path):
    version = ModelVersionFactory()

    model_card_export(version=version)

    version.refresh_from_db()
    assert version.card_uri.endswith(f"general/versions/{version.number}/README.md")
    local = default_storage().get_file(version.card_uri, tmp_path / "README.md")
    assert local.read_text() == model_card(version)


def test_the_version_page_renders_the_card_and_offers_the_readme(client, editor):
    version = _audited(ModelVersionFactory())
    client.force_login(editor)

    page = client.get(reverse("training:version", args=[version.id]))
    readme = client.get(reverse("training:card", args=[version.id]))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="model-card"' in html and "<h2>Model Details</h2>" in html
    assert 'id="bias-audit"' in html and "No group's gap is beyond its threshold." in html
    assert readme.status_code == 200 and readme["Content-Type"].startswith("text/markdown")
    assert readme.content.decode() == model_card(version)


def test_the_promotion_page_shows_the_candidates_card_beside_the_active_ones(client, editor):
    active = ModelVersionFactory(status="active")
    candidate = ModelVersionFactory()
    client.force_login(editor)

    html = client.get(reverse("training:promote", args=[candidate.id])).content.decode()

    assert 'id="model-cards"' in html
    assert f"BlogLLM general v{candidate.number}</h1>" in html
    assert f"BlogLLM general v{active.number}</h1>" in html


def test_someone_who_does_not_manage_the_channel_gets_no_card(client, author):
    version = ModelVersionFactory(channel="clinical")
    client.force_login(author)

    assert client.get(reverse("training:card", args=[version.id])).status_code in (403, 404)
