"""How long `make run` takes to serve: on a fresh data dir, and again on the same one.

Each launch runs the real launcher (`python -m blogllm.run`: checks, embedded PostgreSQL,
migrations, demo seed, gunicorn, worker, beat) on a free port and a throwaway data dir, and is
timed until /readyz answers 200; then it is stopped with SIGTERM and the stop is timed too.
Also: how long another process takes to attach to the running embedded server.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTACH = "from pathlib import Path; from blogllm import pgembed; pgembed.ensure_running(Path('{}'))"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def launch(data_dir: Path) -> tuple[float, float, float]:
    """Seconds until ready, seconds for another process to attach, seconds to stop."""
    port = free_port()
    env = {
        **os.environ,
        "BLOGLLM_DATA_DIR": str(data_dir),
        "BLOGLLM_PORT": str(port),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "blogllm.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not ready(port):
        if process.poll() is not None:
            raise SystemExit(f"the launcher exited with {process.returncode}")
        time.sleep(0.1)
    to_ready = time.perf_counter() - started

    attach_started = time.perf_counter()
    code = ATTACH.format(data_dir / "postgres")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    attach = time.perf_counter() - attach_started

    stop_started = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    return to_ready, attach, time.perf_counter() - stop_started


def main() -> None:
    python_started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare_python = time.perf_counter() - python_started
    with tempfile.TemporaryDirectory(prefix="blogllm-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        rows = [("first run (fresh data dir)", *launch(data_dir))]
        rows.append(("second run (same data dir)", *launch(data_dir)))
        rows.append(("third run (same data dir)", *launch(data_dir)))
    print(f"{'launch':<28} {'to /readyz 200':>15} {'attach (2nd proc)':>18} {'stop':>8}")
    for name, to_ready, attach, stop in rows:
        print(f"{name:<28} {to_ready:>14.1f}s {attach:>17.2f}s {stop:>7.1f}s")
    print(f"(a bare `python -c pass` takes {bare_python:.2f}s here)")


if __name__ == "__main__":
    main()
