"""Draft quality on held-out briefs: base prompt-only, base + retrieval, tuned, tuned + retrieval.

In a fresh process on a throwaway database (bench/_django.py): the 44 demo posts are imported and
embedded, the general channel is fine-tuned with the default recipe (training/config.py) exactly
as `manage.py train` does it, and the new version's draft-quality benchmark runs
(training/services/quality.py): each held-out (validation) post's title, excerpt and tags are the
brief, and the real workflow writes a draft in the four setups, scored against the real post and
the passages retrieved for its brief (generation/quality.py). Printed: the training figures
(steps, minutes, validation perplexity against the base model's), the four rows, and issue 13's
goals for the full workflow.

BENCH_QUALITY_TRAIN=0 skips training and prints the two base rows only (a few minutes);
BENCH_QUALITY_BRIEFS and BENCH_QUALITY_TOKENS size the benchmark (defaults: the product's).
"""

import os
import socket
import time

from bench._django import bench_author, in_fresh_process, throwaway_django

TRAIN = os.environ.get("BENCH_QUALITY_TRAIN", "1") != "0"


def measure() -> dict:
    with throwaway_django():
        from django.conf import settings

        from blogllm.demo import seed_demo_posts
        from posts.services.embedding import posts_embed_all
        from training.services import quality as service

        briefs = int(os.environ.get("BENCH_QUALITY_BRIEFS", service.QUALITY_BRIEFS))
        tokens = int(os.environ.get("BENCH_QUALITY_TOKENS", service.QUALITY_TOKENS))
        author = bench_author()
        seed_demo_posts(author)
        posts_embed_all()
        training = _train(author) if TRAIN else None
        started = time.perf_counter()
        if training:
            from training.models import ModelVersion

            version = ModelVersion.objects.get(id=training["version_id"])
            version = service.model_version_quality_evaluate(
                version=version, briefs=briefs, max_new_tokens=tokens, log=print
            )
            report = version.draft_quality
        else:
            report = service.draft_quality_report(
                channel="general",
                base_model=settings.BASE_MODEL,
                adapter=None,
                author_ids=[author.id],
                briefs=briefs,
                max_new_tokens=tokens,
                log=print,
            )
        return {
            "training": training,
            "report": report,
            "benchmark_s": time.perf_counter() - started,
        }


def _train(author: object) -> dict:
    """The default recipe on the demo posts, as `manage.py train --channel general` runs it."""
    from training.models import TrainingRun
    from training.services.runs import training_run_execute, training_run_start

    run = training_run_start(
        channel="general", by=None, author_ids=[author.id], hyperparameters={}, enqueue=False
    )  # by=None: the operator, as at the command line
    started = time.perf_counter()
    training_run_execute(run_id=run.id, worker=f"bench@{socket.gethostname()}")
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise RuntimeError(f"Training run #{run.id} {run.status}: {run.error or run.phase}")
    metrics = run.version.metrics
    return {
        "version_id": run.version.id,
        "settings": run.hyperparameters,
        "steps": run.step,
        "seconds": seconds,
        "val_perplexity": metrics["val_perplexity"],
        "base_val_perplexity": metrics["base_val_perplexity"],
    }


def main() -> None:
    from generation import quality

    result = in_fresh_process(measure)
    training, report = result["training"], result["report"]
    if training:
        ratio = training["val_perplexity"] / training["base_val_perplexity"]
        print(
            f"Training, default recipe on the demo posts: {training['steps']} steps, "
            f"{training['seconds'] / 60:.1f} min end to end (target <= 10 min of training); "
            f"validation perplexity {training['val_perplexity']:.2f} vs base "
            f"{training['base_val_perplexity']:.2f} = {ratio:.2f}x (target <= 0.75)"
        )
        print(f"  settings: {training['settings']}")
    print(
        f"Draft quality, {report['briefs']} held-out briefs (posts {report['post_ids']}), "
        f"{report['sampling']['max_new_tokens']} new tokens, "
        f"{result['benchmark_s'] / 60:.1f} min:"
    )
    print(quality.format_table(report["rows"]))
    print()
    print(quality.format_checks(quality.done_when_checks(report["rows"])))
