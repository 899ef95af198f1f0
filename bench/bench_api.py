"""The publishing API under load: list and detail, 200s and 304s, 32 connections on loopback.

In a fresh process on a throwaway database (bench/_django.py): 10,000 published posts
(`BENCH_API_POSTS`) of 300-900 words from the demo corpus's paragraphs, each with 1-3 of 12
tags, inserted with bulk_create. Then gunicorn starts as `make run` starts it (gthread, 2
workers × 8 threads, blogllm/run.py) with DEBUG off and the per-IP rate limit raised out of the
way, and 32 client threads, each on its own keep-alive connection, send `BENCH_API_REQUESTS`
requests per case after a warm-up pass:

- list: `GET /api/v1/posts/` (page of 20), the first page and pages further on by cursor;
- detail: `GET /api/v1/posts/{slug}/` for random published slugs;
- list 304 / detail 304: the same requests with the ETag each got, `If-None-Match`;
- each case again on one connection ("alone"): what a request costs when it does not queue.

Printed per case: requests/s, p50/p95/p99 latency; and how much cheaper a 304 is than a 200.
The client shares the 2 cores with the server, so these are a floor for a real deployment.
Goals (issue 14): p95 ≤ 50 ms for the list, ≤ 25 ms for a detail, a 304 ≥ 3× cheaper.
"""

import http.client
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._django import bench_author, in_fresh_process, percentile, throwaway_django

ROOT = Path(__file__).resolve().parent.parent
POSTS = int(os.environ.get("BENCH_API_POSTS", "10000"))
REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", "3000"))
CONNECTIONS = 32
LONE = 300  # requests on one connection: the time a request takes when it does not queue
HOST = "127.0.0.1"
TAGS = ("sleep", "anxiety", "cbt", "therapy", "practice", "grief", "work", "parenting",
        "mindfulness", "trauma", "depression", "relationships")  # fmt: skip
TARGETS_MS = {"list": 50.0, "detail": 25.0}


def seed_posts(count: int, seed: int = 14) -> list[str]:
    """`count` published general posts with tags, as the workflow leaves them; their slugs."""
    from django.utils import timezone

    from bench.bench_import import load_pool
    from posts.models import Post, Tag
    from posts.services.rendering import count_words, render_markdown

    rng = random.Random(seed)
    author = bench_author()
    pool = load_pool()
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    now = timezone.now()
    posts = []
    for i in range(count):
        source = rng.choice(pool)
        paragraphs = rng.sample(source.paragraphs, k=min(len(source.paragraphs), rng.randint(4, 9)))
        body = "\n\n".join(paragraphs)
        html = render_markdown(body)
        published = now - timezone.timedelta(minutes=37 * i + rng.randint(0, 30))
        posts.append(Post(
            title=f"{source.title} ({i})", slug=f"bench-{i}", body_markdown=body,
            body_html=html, word_count=count_words(html), excerpt=paragraphs[0][:280],
            author=author, status=Post.Status.PUBLISHED, published_at=published,
        ))  # fmt: skip
    Post.objects.bulk_create(posts, batch_size=1000)
    links = [
        Post.tags.through(post_id=post.id, tag_id=tag.id)
        for post in Post.objects.only("id")
        for tag in rng.sample(tags, k=rng.randint(1, 3))
    ]
    Post.tags.through.objects.bulk_create(links, batch_size=5000, ignore_conflicts=True)
    from django.db import connection

    with connection.cursor() as cursor:  # what autovacuum soon does to a table this size
        cursor.execute("VACUUM ANALYZE posts_post, posts_post_tags")
    return [post.slug for post in posts]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    """gunicorn with make run's arguments (blogllm/run.py), on the throwaway data dir."""
    from blogllm.run import _commands

    command = _commands(HOST, port, os.environ["BLOGLLM_DATA_DIR"], concurrency=1)["web"]
    command += ["--access-logfile", "/dev/null"]
    env = {**os.environ, "BLOGLLM_API_RATE_PER_IP": "10000000", "BLOGLLM_API_PUBLIC": "1"}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def run_case(
    port: int, requests: list[tuple[str, dict]], expect: int, connections: int = CONNECTIONS
) -> dict[str, float]:
    """Send `requests` over `connections` keep-alive connections; latency figures in ms."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    shares = [requests[i::connections] for i in range(connections)]
    barrier = threading.Barrier(connections + 1)

    def client(share: list[tuple[str, dict]]) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        barrier.wait()
        for path, headers in share:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != expect:
                failures.append(f"{path}: {response.status}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} unexpected answers, e.g. {failures[:3]}")
    return {
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
    }


def _get(port: int, path: str) -> tuple[dict, Any]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    import json

    return dict(response.getheaders()), json.loads(body)


def list_paths(port: int, pages: int = 10) -> list[str]:
    """The first page and the next `pages - 1`, by the cursor links the API gives."""
    paths, path = [], "/api/v1/posts/"
    for _ in range(pages):
        paths.append(path)
        _, body = _get(port, path)
        next_url = urlsplit(body["next"])
        path = f"{next_url.path}?{next_url.query}"
    return paths


def measure() -> dict[str, dict[str, float]]:
    with throwaway_django():
        started = time.perf_counter()
        slugs = seed_posts(POSTS)
        print(f"{POSTS:,} published posts inserted in {time.perf_counter() - started:.1f} s")
        port = _free_port()
        server = start_gunicorn(port)
        try:
            rng = random.Random(7)
            lists = list_paths(port)
            details = [f"/api/v1/posts/{slug}/" for slug in rng.sample(slugs, 500)]
            tags = {path: _get(port, path)[0]["ETag"] for path in lists + details[:100]}
            plans = {
                "list": ([(rng.choice(lists), {}) for _ in range(REQUESTS)], 200),
                "list 304": (
                    [(p, {"If-None-Match": tags[p]}) for p in rng.choices(lists, k=REQUESTS)],
                    304,
                ),
                "detail": ([(rng.choice(details), {}) for _ in range(REQUESTS)], 200),
                "detail 304": (
                    [
                        (p, {"If-None-Match": tags[p]})
                        for p in rng.choices(details[:100], k=REQUESTS)
                    ],
                    304,
                ),
            }
            results = {}
            for name, (requests, expect) in plans.items():
                run_case(port, requests[: max(CONNECTIONS * 4, REQUESTS // 10)], expect)  # warm
                results[name] = run_case(port, requests, expect)
                results[f"{name}, alone"] = run_case(port, requests[:LONE], expect, connections=1)
            return results
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    results = in_fresh_process(measure)
    print(f"\n{CONNECTIONS} connections, {REQUESTS:,} requests per case, gunicorn gthread 2×8")
    print(f"{'case':<20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  goal")
    for name, figures in results.items():
        target = TARGETS_MS.get(name)
        goal = ""
        if target is not None:
            goal = f"p95 ≤ {target:.0f} ms: {'met' if figures['p95'] <= target else 'MISSED'}"
        print(
            f"{name:<20} {figures['rps']:>8.0f} {figures['p50']:>8.1f} "
            f"{figures['p95']:>8.1f} {figures['p99']:>8.1f}  {goal}"
        )
    for kind in ("list", "detail"):
        ratio = results[f"{kind} 304"]["rps"] / results[kind]["rps"]
        verdict = "met" if ratio >= 3 else "MISSED"
        print(f"{kind}: a 304 is {ratio:.1f}× cheaper than a 200 (by req/s; goal ≥ 3×: {verdict})")


if __name__ == "__main__":
    sys.exit(main())
