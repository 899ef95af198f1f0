"""gunicorn's settings, one place for `make run` and the container image (`gunicorn -c
python:blogllm.gunicorn_conf --bind HOST:PORT blogllm.wsgi`). Flags on the command line win.

2 workers x 8 threads: the web process mostly waits on PostgreSQL and Redis, and two processes
use both cores of a small machine (the API benchmark's figures are for exactly this).
"""

worker_class = "gthread"
workers = 2
threads = 8
timeout = 120
accesslog = "-"
control_socket_disable = True


def on_starting(server) -> None:  # noqa: ANN001
    """Before the workers fork: /metrics' multiprocess folder, without dead processes' files."""
    from blogllm.metrics import multiprocess_dir_prepare

    multiprocess_dir_prepare()


def child_exit(server, worker) -> None:  # noqa: ANN001
    """A worker that exits stops counting in the live gauges (prometheus_client's rule)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
