"""`make run`: check the services, migrate, seed the demo, then run web, workers and beat together.

Ctrl-C (or SIGTERM) stops them all; if one of them dies, the others are stopped too, so a
half-running product never hides behind a cheerful banner. The embedded PostgreSQL, when used,
stops with the last process that holds it.
"""

import os
import signal
import socket
import subprocess
import sys
import time

BANNER = """
BlogLLM is running at http://{host}:{port}/   (Ctrl-C stops everything)
{logins}
"""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _commands(host: str, port: int, data_dir: str, concurrency: int,
              batch: int) -> dict[str, list[str]]:  # fmt: skip
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "blogllm"]
    return {
        # Workers, threads, timeouts: blogllm/gunicorn_conf.py, shared with the container image.
        "web": [
            python, "-m", "gunicorn", "blogllm.wsgi", "--config", "python:blogllm.gunicorn_conf",
            "--bind", f"{host}:{port}",
        ],
        "worker": [
            *celery, "worker", "--queues", "default,gpu", "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--hostname", "local@%h",
        ],
        # Drafts: one process whose task threads share one model, decoded in one batch of up to
        # BLOGLLM_GENERATION_BATCH_MAX (generation/runtime.py).
        "generator": [
            *celery, "worker", "--queues", "generate", "--pool", "threads", "--concurrency",
            str(batch), "--loglevel", "INFO", "--hostname", "generate@%h",
        ],
        "beat": [
            *celery, "beat", "--loglevel", "INFO", "--schedule",
            os.path.join(data_dir, "celerybeat-schedule"),
        ],
    }  # fmt: skip


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    from blogllm.preflight import fail, setup_django

    setup_django()
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command

    from blogllm import checks, demo, pgembed
    from blogllm.env import env_int, env_str

    try:
        host = env_str("BLOGLLM_HOST", "127.0.0.1")
        port = env_int("BLOGLLM_PORT", 8000, minimum=1)
        concurrency = env_int("BLOGLLM_WORKER_CONCURRENCY", 2, minimum=1)
    except ImproperlyConfigured as exc:
        fail(str(exc))

    if not _port_free(host, port):
        fail(f"port {port} on {host} is in use; stop what uses it or set BLOGLLM_PORT.")
    problem = checks.first_startup_problem()
    if problem is not None:
        fail(problem.sentence)

    print("Applying database migrations…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    logins = demo.format_logins(demo.seed())

    # Children get their own session, so Ctrl-C reaches only this process, which then stops
    # them in order instead of all of them racing to exit.
    # The generation worker loads the base model as it starts: the first draft streams at once.
    os.environ.setdefault("BLOGLLM_WARM_RUNTIME", "1")
    # Web and worker count /metrics' events in one folder, so the web's /metrics shows both. It
    # must exist before they start (prometheus_client writes there as soon as it is imported).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.DATA_DIR / "metrics"))
    from blogllm.metrics import multiprocess_dir_prepare

    multiprocess_dir_prepare()
    commands = _commands(
        host, port, str(settings.DATA_DIR), concurrency, settings.GENERATION_BATCH_MAX
    )
    children = {
        name: subprocess.Popen(command, start_new_session=True)
        for name, command in commands.items()
    }
    stopping = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(BANNER.format(host=host, port=port, logins=logins), flush=True)

    exit_code = 0
    while not stopping:
        dead = [name for name, child in children.items() if child.poll() is not None]
        if dead:
            print(f"\nThe {dead[0]} process exited; stopping the others.", file=sys.stderr)
            exit_code = 1
            break
        time.sleep(0.5)
    print("\nStopping web, workers and beat…", flush=True)
    _stop(children)
    if not settings.DATABASE_URL:
        pgembed.prune_dead_handles(settings.DATA_DIR / "postgres")
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
