"""The worker under a pile-up: 20 AI drafts and one training run queued at once, against the
worker `make run` started (same data dir and Redis). Every job must finish, or fail with a
sentence, and the worker's memory must stay bounded; this prints what happened.

    make run                                   # terminal 1
    .venv/bin/python loadtest/stress_worker.py [--drafts 20] [--train-steps 20]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogllm.settings.local")


def worker_rss_mb() -> float:
    """Resident memory of `make run`'s Celery workers: the training worker (its main process and
    its pool) and the generation worker (one process of task threads)."""
    import psutil

    total = 0
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if (
            "celery" in cmdline
            and " worker" in cmdline
            and ("local@" in cmdline or "generate@" in cmdline)
        ):
            total += process.info["memory_info"].rss
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from accounts.models import User
    from accounts.roles import Role
    from blogllm.celery import app
    from generation.models import GenerationRun
    from generation.services.runs import generation_run_start
    from training.models import TrainingRun
    from training.services.runs import training_run_start

    editor = User.objects.filter(groups__name=Role.EDITOR.value).order_by("id").first()
    if editor is None:
        sys.exit("No editor: start `make run` once first (it seeds the demo users).")
    # The pile-up is the point: lift the per-person cap for this process's requests only.
    settings.GENERATION_MAX_ACTIVE_PER_USER = args.drafts + 1
    started = time.monotonic()
    drafts = [
        generation_run_start(
            channel="general", by=editor, sampling={"max_new_tokens": 64, "seed": n},
            brief={"topic": f"Stress test {n}: a short note on rest and sleep"},
        ).id
        for n in range(args.drafts)
    ]  # fmt: skip
    training = training_run_start(
        channel="general", by=editor, hyperparameters={"max_steps": args.train_steps}
    ).id
    print(f"Queued {len(drafts)} drafts and training run #{training} at once.", flush=True)

    peak, finished = worker_rss_mb(), False
    with app.connection_for_read() as connection:
        redis = connection.default_channel.client
        while time.monotonic() - started < args.timeout:
            runs = GenerationRun.objects.filter(id__in=drafts)
            active = runs.filter(status__in=GenerationRun.ACTIVE_STATUSES).count()
            run = TrainingRun.objects.get(id=training)
            peak = max(peak, worker_rss_mb())
            print(
                f"{time.monotonic() - started:6.0f} s  drafts active {active:2d}  training "
                f"{run.status} {run.step}/{run.total_steps}  gpu queue {redis.llen('gpu'):2d}  "
                f"generate queue {redis.llen('generate'):2d}  workers {worker_rss_mb():6.0f} MB",
                flush=True,
            )
            if not active and not run.is_active:
                finished = True
                break
            time.sleep(5)
    elapsed = time.monotonic() - started
    outcome = "All finished" if finished else "Timed out"
    print(f"\n{outcome} after {elapsed:.0f} s; worker peak {peak:.0f} MB.")
    for status, n in sorted(
        {s: GenerationRun.objects.filter(id__in=drafts, status=s).count()
         for s in GenerationRun.Status.values}.items()
    ):  # fmt: skip
        if n:
            print(f"  drafts {status}: {n}")
    for run in GenerationRun.objects.filter(id__in=drafts).exclude(error=""):
        print(f"  draft #{run.id} failed: {run.error}")
    done = GenerationRun.objects.filter(id__in=drafts, finished_at__isnull=False)
    waits = sorted((r.finished_at - r.created_at).total_seconds() for r in done)
    if waits:
        print(
            f"  draft time from request to finish: min {waits[0]:.0f} s, median "
            f"{waits[len(waits) // 2]:.0f} s, max {waits[-1]:.0f} s"
        )
    run = TrainingRun.objects.get(id=training)
    print(
        f"  training run #{run.id}: {run.status} {run.error or ''} loss {run.loss} "
        f"({run.tokens_per_s or 0:.0f} tokens/s)"
    )


if __name__ == "__main__":
    main()
