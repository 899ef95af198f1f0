"""Training rows for UI tests, made directly with plausible figures (no model is trained).

The services that write these rows in production need a worker and a base model; the pages
only read them, so the factories fill in what a finished run and its evaluation would leave.
"""

import hashlib

import factory
from django.utils import timezone

from posts.models import Post
from training.models import DatasetSnapshot, ModelVersion, TrainingRun

HYPERPARAMETERS = {
    "rank": 16,
    "learning_rate": 2e-4,
    "epochs": 1.0,
    "max_steps": None,
    "batch_size": 4,
    "max_length": 512,
}


def loss_points(steps: int, *, start: float = 3.2, end: float = 2.1) -> list[dict]:
    """One point per step, the loss falling from `start` to `end`."""
    return [
        {
            "step": step,
            "loss": round(start + (end - start) * (step - 1) / max(steps - 1, 1), 5),
            "lr": 2e-4,
            "tokens_per_s": 160.0,
        }
        for step in range(1, steps + 1)
    ]


class DatasetSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DatasetSnapshot

    channel = Post.Channel.GENERAL
    members = factory.LazyFunction(
        lambda: [
            {
                "id": f"post:{n}",
                "kind": "post",
                "split": "train",
                "content_hash": "x",
                "tokens": 500,
            }
            for n in range(3)
        ]
    )
    train_count = 39
    validation_count = 5
    train_tokens = 19_968
    validation_tokens = 2_560
    fingerprint = factory.Sequence(lambda n: hashlib.sha256(f"snapshot {n}".encode()).hexdigest())
    tokenizer = "HuggingFaceTB/SmolLM2-135M-Instruct"
    artifact_uri = factory.LazyAttribute(
        lambda s: f"file:///artifacts/{s.channel}/datasets/x.jsonl"
    )


class TrainingRunFactory(factory.django.DjangoModelFactory):
    """A queued run; `finished=True` gives a succeeded one with points and checkpoints."""

    class Meta:
        model = TrainingRun

    class Params:
        finished = factory.Trait(
            status=TrainingRun.Status.SUCCEEDED,
            phase="Finished",
            dataset=factory.SubFactory(
                DatasetSnapshotFactory, channel=factory.SelfAttribute("..channel")
            ),
            step=20,
            total_steps=20,
            loss=2.1,
            tokens_per_s=160.0,
            eta_s=0.0,
            points=factory.LazyFunction(lambda: loss_points(20)),
            checkpoints=[
                {"step": 10, "uri": "file:///artifacts/ckpt/step-10"},
                {"step": 20, "uri": "file:///artifacts/ckpt/step-20"},
            ],
            device="cuda",
            dtype="bfloat16",
            worker="gpu@worker-1",
            attempts=1,
            log="2025-01-01 10:00:00 Attempt 1 started on gpu@worker-1.\n",
            started_at=factory.LazyFunction(timezone.now),
            finished_at=factory.LazyFunction(timezone.now),
        )

    channel = Post.Channel.GENERAL
    base_model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    hyperparameters = factory.LazyFunction(lambda: dict(HYPERPARAMETERS))
    status = TrainingRun.Status.QUEUED
    phase = "Waiting for a worker"


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A candidate from a finished run: the checkpoint of step 20 won (perplexity 14.2 vs 21.5)."""

    class Meta:
        model = ModelVersion

    channel = Post.Channel.GENERAL
    number = factory.Sequence(lambda n: n + 1)
    status = ModelVersion.Status.CANDIDATE
    base_model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    run = factory.SubFactory(
        TrainingRunFactory, channel=factory.SelfAttribute("..channel"), finished=True
    )
    dataset = factory.SelfAttribute("run.dataset")
    code_version = "abc123def456"
    checkpoint_step = 20
    adapter_uri = factory.LazyAttribute(
        lambda v: f"file:///artifacts/{v.channel}/versions/{v.number}/adapter"
    )
    report_uri = factory.LazyAttribute(
        lambda v: f"file:///artifacts/{v.channel}/versions/{v.number}/report.json"
    )
    metrics = factory.LazyFunction(
        lambda: {
            "val_perplexity": 14.2,
            "base_val_perplexity": 21.5,
            "style_score": 0.61,
            "base_style_score": 0.48,
            "checkpoints": [
                {"step": 10, "val_perplexity": 15.9},
                {"step": 20, "val_perplexity": 14.2},
            ],
            "best_step": 20,
            "train_loss": 2.1,
            "tokens_per_s": 160.0,
            "steps": 20,
        }
    )
    samples = factory.LazyFunction(
        lambda: [
            {
                "brief": f"Write a blog post titled “Brief {n}”.",
                "base": f"Base text {n}.",
                "tuned": f"Tuned text {n}.",
            }
            for n in range(1, 4)
        ]
    )


def memorisation(*, passed: bool, threshold: float = 0.5) -> dict:
    """A MemorisationResult as the registry stores it (training.evaluation, asdict)."""
    worst = 0.25 if passed else 0.8
    items = [
        {"id": "note:1f0c", "prompt_words": 12, "overlap": worst, "canary": False},
        {"id": "note:9a2b", "prompt_words": 12, "overlap": 0.05, "canary": False},
        {"id": "canary:0", "prompt_words": 12, "overlap": 0.0, "canary": True},
    ]
    return {
        "items": items,
        "max_overlap": worst,
        "mean_overlap": round(sum(i["overlap"] for i in items) / len(items), 4),
        "canary_max_overlap": 0.0,
        "passed": passed,
        "threshold": threshold,
    }


def with_memorisation(version: ModelVersion, *, passed: bool) -> ModelVersion:
    version.memorisation = memorisation(passed=passed)
    version.memorisation_passed = passed
    version.memorisation_tested_at = timezone.now()
    version.save(update_fields=["memorisation", "memorisation_passed", "memorisation_tested_at"])
    return version
