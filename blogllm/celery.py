"""The one Celery app: Redis broker and results from REDIS_URL, queues `default`, `gpu` and
`generate`.

Configuration lives in Django settings under the CELERY_ prefix; task modules are discovered in
every installed app. A worker checks Redis and the database before it consumes anything, and stops
with one sentence naming the setting when either is unreachable.
"""

import logging
import os
import threading
import time

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogllm.settings.local")

app = Celery("blogllm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    lambda: ["blogllm", "accounts", "posts", "compliance", "training", "generation", "publishing"]
)


@signals.setup_logging.connect
def _use_django_logging(**kwargs: object) -> None:
    """Workers log through the project's LOGGING (JSON lines with the request id in production)
    rather than Celery's own handlers."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_context(headers: dict, **kwargs: object) -> None:
    from blogllm import context

    context.task_headers_add(headers)


_started: dict[str, float] = {}  # task id → perf_counter at its start, for its duration metric


@signals.task_prerun.connect
def _bind_request_context(task_id: str, task: object, **kwargs: object) -> None:
    from blogllm import context, metrics

    carried = getattr(task.request, context.HEADER, None)
    context.task_context_bind(task_id=task_id, task_name=task.name, carried=carried)
    _started[task_id] = time.perf_counter()
    queue = (task.request.delivery_info or {}).get("routing_key")
    if queue:
        metrics.worker_seen(queue)


@signals.task_postrun.connect
def _clear_request_context(task_id: str, task: object, **kwargs: object) -> None:
    from blogllm import context, metrics

    started = _started.pop(task_id, None)
    if started is not None:
        metrics.task_observe(task=task.name, seconds=time.perf_counter() - started)
    context.clear()


@signals.task_failure.connect
def _count_failure(sender: object, **kwargs: object) -> None:
    from blogllm import metrics

    metrics.TASK_FAILURES.labels(sender.name).inc()


@signals.task_retry.connect
def _count_retry(sender: object, **kwargs: object) -> None:
    from blogllm import metrics

    metrics.TASK_RETRIES.labels(sender.name).inc()


@signals.worker_init.connect
def _serve_metrics(**kwargs: object) -> None:
    """Before the pool forks: dead processes' metric files dropped, and with
    BLOGLLM_WORKER_METRICS_PORT set, the worker's task, generation and de-identification events
    served for Prometheus."""
    from django.conf import settings

    from blogllm import metrics

    metrics.multiprocess_dir_prepare()
    if settings.WORKER_METRICS_PORT:
        metrics.worker_metrics_serve(settings.WORKER_METRICS_PORT)


@signals.worker_init.connect
def _check_services(**kwargs: object) -> None:
    from blogllm import checks

    checks.raise_on_startup_problem()


@signals.worker_init.connect
def _limit_torch_threads(**kwargs: object) -> None:
    # torch's default of one thread per core collapses when the web server or another worker
    # shares the machine (shared/FIELD-NOTES.md). torch reads these when it is first imported,
    # which in a worker is inside a task, after this.
    from django.conf import settings

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(settings.TORCH_THREADS))


@signals.worker_process_init.connect
def _trace_pool_process(**kwargs: object) -> None:
    from blogllm.observability import otel_init

    otel_init(celery=True)  # in each pool process: the exporter's thread does not survive a fork


@signals.worker_init.connect
def _trace_single_process_worker(sender: object, **kwargs: object) -> None:
    # The solo and threads pools fork nothing (and send no worker_process_init).
    if not getattr(sender, "pool_cls", None) or "prefork" in sender.pool_cls.__module__:
        return
    from blogllm.observability import otel_init

    otel_init(celery=True)


@signals.worker_ready.connect
def _warm_runtime(sender: object, **kwargs: object) -> None:
    """With BLOGLLM_WARM_RUNTIME, a generation worker (queue `generate`, `--pool threads`: its
    tasks share this process's model) loads the embedding model and the base model in the
    background once it is ready (a draft asked for meanwhile waits for them, rather than loading
    them twice). Training workers load what a task needs when it starts."""
    from django.conf import settings

    if not settings.WARM_RUNTIME or "generate" not in sender.app.amqp.queues.consume_from:
        return

    def load() -> None:
        from generation.services.serving import runtime_for
        from posts.embedder import get_embedder

        try:
            get_embedder(settings.EMBED_MODEL)  # the retriever embeds each brief
            runtime_for(settings.BASE_MODEL)
        except Exception:  # noqa: BLE001 - a draft will load it again and report the error
            logging.getLogger(__name__).exception("Could not pre-load %s", settings.BASE_MODEL)

    threading.Thread(target=load, name="warm-runtime", daemon=True).start()
