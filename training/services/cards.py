"""Model cards: what a version is, what it is for, and how it measured, in the Hugging Face
model-card layout (YAML metadata, then Model Details, Uses, Bias Risks and Limitations, Training
Details, Evaluation, Lineage).

`model_card` writes the Markdown from the registry's rows: counts, dates, metrics and hashes,
never a post's or a note's text. The version page renders it; `model_card_export` stores it as
`README.md` beside the adapter folder in artifact storage (the version's folder: inside the
adapter's it would break the checksums its upload recorded, which every download verifies), and
writes it again whenever an evaluation adds numbers.
"""

import json
import logging
import tempfile
from pathlib import Path

from django.db.models import Max, Min
from django.db.models.functions import Coalesce

from generation import quality
from posts.models import Post
from posts.services.rendering import render_markdown
from training.config import TrainConfig
from training.models import ModelVersion
from training.storage import ArtifactError, default_storage

logger = logging.getLogger(__name__)

USES = {
    Post.Channel.GENERAL: {
        "direct": (
            "Writing first drafts of blog posts in the voice of the author(s) it was trained "
            "on, from an editor's brief, inside BlogLLM's drafting workflow (retrieval from the "
            "author's published posts, the guard, the targeted revise). Every draft is read, "
            "edited and approved by a person before it is published."
        ),
        "out_of_scope": [
            "Publishing its text without a person's review, or presenting it as the author's own "
            "words without their consent.",
            "Facts: it writes fluent text, not verified statements. Numbers, dates and names "
            "it states may not be in any source (the draft view marks those).",
            "Medical, legal or financial advice, and anything about clinical notes (the clinical "
            "channel has its own model, trained on approved de-identified notes only).",
            "Writing in the voice of someone who is not in its training data.",
        ],
    },
    Post.Channel.CLINICAL: {
        "direct": (
            "Drafting clinical-education posts grounded in clinical notes that passed HIPAA "
            "Safe Harbor de-identification and were approved by a compliance officer, for "
            "clinicians who review every draft; the guard scans each draft for PHI."
        ),
        "out_of_scope": [
            "Diagnosis, treatment or any decision about a patient's care.",
            "Re-identifying a patient, or prompting for text from its training notes (its "
            "memorisation test measures how much it reproduces).",
            "Notes that were not de-identified and approved; any use outside the clinical "
            "channel's review workflow.",
            "Publishing without a clinician's and the compliance workflow's review.",
        ],
    },
}


def model_card(version: ModelVersion) -> str:
    """The version's card as Markdown, metadata first."""
    run, dataset = version.run, version.dataset
    config = TrainConfig.from_stored(run.hyperparameters)
    uses = USES[Post.Channel(version.channel)]
    metadata = {
        "base_model": version.base_model,
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "language": ["en"],
        "tags": ["lora", "blogllm", f"channel:{version.channel}"],
        "model_name": f"BlogLLM {version.channel} v{version.number}",
    }
    lines = ["---", *_yaml(metadata), "---", ""]
    lines += [
        f"# Model card: BlogLLM {version.get_channel_display().lower()} v{version.number}",
        "",
        f"A LoRA adapter for `{version.base_model}`, trained by BlogLLM's training run "
        f"#{run.id} on the {version.channel} channel's "
        f"{'approved de-identified notes and published clinical posts' if version.is_clinical else 'published posts'}.",  # noqa: E501
        "",
        "## Model Details",
        "",
        "### Model Description",
        "",
        *_facts(
            [
                ("Model type", "causal language model, LoRA adapter (peft)"),
                ("Finetuned from model", f"`{version.base_model}`"),
                ("Language(s)", "English"),
                ("Channel", version.get_channel_display()),
                ("Status", version.get_status_display()),
                ("Registered", f"{version.created_at:%Y-%m-%d %H:%M} UTC"),
                (
                    "Last promoted",
                    f"{version.promoted_at:%Y-%m-%d %H:%M} UTC" if version.promoted_at else "never",
                ),
                ("Started by", "the retraining schedule" if run.scheduled else "a person"),
            ]
        ),  # fmt: skip
        "## Uses",
        "",
        "### Direct Use",
        "",
        uses["direct"],
        "",
        "### Out-of-Scope Use",
        "",
        *[f"- {item}" for item in uses["out_of_scope"]],
        "",
        "## Bias, Risks, and Limitations",
        "",
        *_limitations(version),
        "",
        "## Training Details",
        "",
        "### Training Data",
        "",
        *_training_data(version),
        "",
        "### Training Procedure",
        "",
        "#### Training Hyperparameters",
        "",
        *_facts(
            [
                (
                    "LoRA rank / alpha / dropout",
                    f"{config.rank} / {config.alpha:g} / {config.dropout:g}",
                ),
                ("Target modules", ", ".join(config.target_modules)),
                ("Learning rate", f"{config.learning_rate:g}"),
                ("Epochs / max steps", f"{config.epochs:g} / {config.max_steps or '—'}"),
                ("Batch size × accumulation", f"{config.batch_size} × {config.grad_accum}"),
                (
                    "Sequence length",
                    f"{config.max_length} tokens{', packed' if config.packing else ''}",
                ),
                ("Seed", str(config.seed)),
                ("Device / precision", f"{run.device or '—'} / {run.dtype or '—'}"),
                ("Steps trained", str(version.metrics.get("steps") or "—")),
                (
                    "Checkpoint chosen",
                    f"step {version.checkpoint_step} (lowest validation perplexity)",
                ),
            ]
        ),  # fmt: skip
        "## Evaluation",
        "",
        *_evaluation(version),
        "## Lineage",
        "",
        *_facts(
            [
                ("Base model", f"`{version.base_model}`"),
                ("Dataset snapshot", f"#{dataset.id}, sha256 `{dataset.fingerprint}`"),
                ("Dataset artifact", f"`{dataset.artifact_uri or '—'}`"),
                ("Training run", f"#{run.id}, {run.attempts} attempt(s)"),
                ("Code version", f"`{version.code_version or 'unknown'}`"),
                ("Adapter", f"`{version.adapter_uri}`"),
                ("Evaluation report", f"`{version.report_uri or '—'}`"),
            ]
        ),  # fmt: skip
    ]
    return "\n".join(lines).rstrip() + "\n"


def _yaml(data: dict) -> list[str]:
    """Flat YAML: JSON scalars and lists are valid YAML, so nothing here needs a YAML library."""
    return [f"{key}: {json.dumps(value)}" for key, value in data.items()]


def _facts(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"- **{name}:** {value}" for name, value in pairs] + [""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *["| " + " | ".join(row) + " |" for row in rows],
        "",
    ]


def _training_data(version: ModelVersion) -> list[str]:
    dataset = version.dataset
    kinds: dict[tuple[str, str], int] = {}
    for member in dataset.members:
        key = (member["kind"], member["split"])
        kinds[key] = kinds.get(key, 0) + 1
    rows = [[kind, split, str(n)] for (kind, split), n in sorted(kinds.items())]
    post_ids = [int(m["id"].removeprefix("post:")) for m in dataset.members if m["kind"] == "post"]
    span = Post.objects.filter(id__in=post_ids).aggregate(
        first=Min(Coalesce("published_at", "created_at")),
        last=Max(Coalesce("published_at", "created_at")),
    )
    dates = f"{span['first']:%Y-%m-%d} to {span['last']:%Y-%m-%d}" if span["first"] else "no posts"
    authors = len(dataset.author_ids) if dataset.author_ids else "all"
    lines = [
        f"Dataset snapshot #{dataset.id}, frozen {dataset.created_at:%Y-%m-%d %H:%M} UTC: "
        f"{dataset.train_count} training samples ({dataset.train_tokens:,} tokens) and "
        f"{dataset.validation_count} validation samples ({dataset.validation_tokens:,} tokens), "
        f"counted by the `{dataset.tokenizer}` tokenizer. Posts' dates: {dates}. "
        f"Authors: {authors}. No AI-assisted posts and no flagged duplicates are included.",
        "",
        *_table(["Kind", "Split", "Samples"], rows),
    ]
    if version.is_clinical:
        lines.append(
            "Notes are the de-identified text of approved notes only (HIPAA Safe Harbor); "
            "canaries are planted strings the memorisation test prompts for. This card holds "
            "counts, never text."
        )
    return lines


def _evaluation(version: ModelVersion) -> list[str]:
    m = version.metrics or {}
    lines = [
        "### Testing Data, Factors & Metrics",
        "",
        f"- **Validation perplexity** on the snapshot's {version.dataset.validation_count} "
        "held-out samples, tuned and base model, lower is better.",
        "- **Style score**: cosine of the fixed briefs' samples to the held-out posts' centroid "
        "(all-MiniLM-L6-v2 embeddings), higher is closer to the author.",
        "- **Draft-quality benchmark**: the real drafting workflow on briefs made from held-out "
        "published posts, four setups on the same briefs and seeds.",
        "- **Bias audit**: counterfactual brief pairs differing only in a group term, same "
        "seed on both sides; sentiment (VADER), toxicity (alt-profanity-check), length and "
        "refusals compared per group.",
        "",
        "### Results",
        "",
        *_table(
            ["Metric", "Tuned", "Base"],
            [
                [
                    "Validation perplexity",
                    _num(m.get("val_perplexity")),
                    _num(m.get("base_val_perplexity")),
                ],
                ["Style score", _num(m.get("style_score"), 3), _num(m.get("base_style_score"), 3)],
                ["Final training loss", _num(m.get("train_loss"), 3), "—"],
            ],
        ),  # fmt: skip
    ]
    lines += _draft_quality(version)
    lines += _memorisation(version)
    lines += _bias(version)
    return lines


def _draft_quality(version: ModelVersion) -> list[str]:
    report = version.draft_quality or {}
    rows = report.get("rows") or []
    if not rows:
        return ["#### Draft quality", "", "Not measured yet.", ""]
    header = ["Metric", *[r["label"] for r in rows]]
    body = [
        [title, *[quality.formatted(r.get(key), pattern) for r in rows]]
        for key, _, title, pattern, _ in quality.COLUMNS
    ]
    return [
        "#### Draft quality",
        "",
        f"{report.get('briefs')} held-out briefs (post ids {report.get('post_ids')}), "
        f"{(report.get('sampling') or {}).get('max_new_tokens')} new tokens, seeds "
        f"{report.get('seeds')}, retrieval k={report.get('retrieval_k')}.",
        "",
        *_table(header, body),
    ]


def _memorisation(version: ModelVersion) -> list[str]:
    if not version.is_clinical:
        return []
    data = version.memorisation
    if not data:
        return ["#### Memorisation", "", "Not tested: this version cannot be promoted yet.", ""]
    verdict = "passed" if version.memorisation_passed else "FAILED"
    return [
        "#### Memorisation",
        "",
        f"{verdict}: the highest verbatim continuation of a training note or canary is "
        f"{data.get('max_overlap', 0):.0%} of its words "
        f"(threshold {data.get('threshold', 0):.0%}); "
        f"mean {data.get('mean_overlap', 0):.0%}, canaries at most "
        f"{data.get('canary_max_overlap', 0):.0%}, over {len(data.get('items') or [])} texts.",
        "",
    ]


def _bias(version: ModelVersion) -> list[str]:
    from training.services.bias import bias_table

    table = bias_table(version)
    if table is None:
        return ["#### Bias and toxicity", "", "Not audited yet.", ""]
    rows = [
        [row["group"], str(row["pairs"]), *[f"{c['gap']} ({c['ci']})" for c in row["cells"]],
         "FAILED" if row["failed"] else "passed"]
        for row in table["rows"]
    ]  # fmt: skip
    verdict = (
        "It failed for: " + ", ".join(table["failed"]) + "; it cannot be promoted."
        if table["failed"]
        else "No group's gap is beyond its threshold."
    )
    return [
        "#### Bias and toxicity",
        "",
        f"Gaps are side a minus side b (the first term of each pair), mean over the pairs with "
        f"a 95% interval. {verdict}",
        "",
        *_table(["Group", "Pairs", *table["measures"], "Result"], rows),
    ]


def _limitations(version: ModelVersion) -> list[str]:
    lines = [
        f"- A LoRA adapter on a small base model (`{version.base_model}`): it writes fluent "
        "text with shallow knowledge, repeats itself on long drafts, and can state numbers, "
        "dates and names that are not in any source.",
        "- It learned one author's (or a few authors') voice from "
        f"{version.dataset.train_count} samples: topics outside them come out generic.",
        "- English only.",
    ]
    mine = (version.draft_quality or {}).get("rows") or []
    by_label = {r["label"]: r for r in mine}
    tuned, base = by_label.get(quality.TUNED_RETRIEVAL), by_label.get(quality.BASE_RETRIEVAL)
    if tuned and base:
        worse = [
            title
            for key, _, title, _, higher in quality.COLUMNS
            if higher is not None
            and tuned.get(key) is not None
            and base.get(key) is not None
            and (tuned[key] < base[key]) == higher
            and tuned[key] != base[key]
        ]
        if worse:
            lines.append(
                "- Measured worse than the base model with retrieval on: " + ", ".join(worse) + "."
            )
    if version.bias_audit_passed is False:
        lines.append("- Its bias audit failed (see Evaluation): it cannot be promoted.")
    if version.is_clinical and version.memorisation_passed is False:
        lines.append("- It reproduces training text (memorisation test failed).")
    return lines


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def model_card_html(version: ModelVersion) -> str:
    """The card as the version page shows it: the Markdown after its metadata, sanitised."""
    text = model_card(version)
    body = text.split("---\n", 2)[2] if text.startswith("---\n") else text
    return render_markdown(body)


def model_card_export(*, version: ModelVersion) -> ModelVersion:
    """Write the card as README.md beside the adapter. A storage failure is logged, not raised:
    the card is written again after the next evaluation, and the page renders it regardless."""
    storage = default_storage()
    key = f"{version.channel}/versions/{version.number}/README.md"
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "README.md"
        path.write_text(model_card(version), encoding="utf-8")
        try:
            uri = storage.put_file(path, key)
        except ArtifactError:
            logger.exception("The model card of %s could not be stored", version)
            return version
    if uri != version.card_uri:
        version.card_uri = uri
        version.save(update_fields=["card_uri"])
    return version
