"""Mixed editor and API traffic for BlogLLM, on loopback against `make run`'s gunicorn.

    make run                                   # in one terminal: web, worker, beat, demo data
    .venv/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 32 -r 32 -t 75s --stop-timeout 15 --csv var/loadtest/u32

Editors sign in with the demo editor's login (var/demo-logins.json, or LOADTEST_EMAIL and
LOADTEST_PASSWORD), open the dashboard and the post list, search, and edit a draft of their own
that they autosave every few seconds; now and then one asks for an AI draft. API clients read
the published posts, as external sites do, half of them conditionally (If-None-Match).

Under overload the server should shed (503 or 429, at once) rather than time out, and never
lose an autosave: each editor checks, when it stops, that the post holds the last text it saved
("autosave lost" in the failures if not). docs/operations.md records what this measured.
"""

import json
import os
import random
import re
from collections import Counter
from pathlib import Path

from gevent.lock import Semaphore
from locust import FastHttpUser, between, events, task

WORDS = ["sleep", "rest", "tea", "walking", "morning", "evening", "habit", "calm", "work"]
SHED = (429, 503)
shed: Counter[str] = Counter()  # requests answered 429/503 on purpose, by name
_session: list = []  # the signed-in editor's cookies, shared by every simulated editor
_signing_in = Semaphore()


@events.test_stop.add_listener
def _report_shedding(**kwargs: object) -> None:
    total = ", ".join(f"{name} {n}" for name, n in sorted(shed.items())) or "none"
    print(f"Shed at once (429/503): {total}")


def demo_login(role: str) -> tuple[str, str]:
    if os.environ.get("LOADTEST_EMAIL"):
        return os.environ["LOADTEST_EMAIL"], os.environ["LOADTEST_PASSWORD"]
    data_dir = Path(os.environ.get("BLOGLLM_DATA_DIR", "var"))
    for entry in json.loads((data_dir / "demo-logins.json").read_text()):
        if entry["role"].lower() == role and not entry.get("totp_secret"):
            return entry["email"], entry["password"]
    raise RuntimeError(f"No demo {role} without two-factor sign-in in {data_dir}/demo-logins.json")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""


class Editor(FastHttpUser):
    """An editor at work: reading, searching, and autosaving a draft every few seconds."""

    weight = 3
    wait_time = between(2, 6)
    network_timeout = connection_timeout = 30.0  # a request slower than this counts as failed

    def on_start(self) -> None:
        # One sign-in for all simulated editors, as tabs of one browser: they all come from one
        # address, and the sign-in rate limit (30 a minute per IP) would turn most away.
        with _signing_in:
            if not _session:
                email, password = demo_login("editor")
                page = self.client.get("/accounts/login/", name="sign in")
                self.client.post(
                    "/accounts/login/", name="sign in",
                    data={"login": email, "password": password,
                          "csrfmiddlewaretoken": csrf_of(page.text)},
                    headers={"Referer": f"{self.host}/accounts/login/"},
                )  # fmt: skip
                _session.extend(self.client.cookiejar)
            else:
                for cookie in _session:
                    self.client.cookiejar.set_cookie(cookie)
        form = self.client.get("/posts/new/", name="new post")
        self.csrf = csrf_of(form.text)
        title = f"Load test {random.randrange(10**9)}"
        made = self.client.post(
            "/posts/new/", name="new post", allow_redirects=False,
            data={"title": title, "body_markdown": "Start.", "tags": "", "channel": "general",
                  "csrfmiddlewaretoken": self.csrf},
        )  # fmt: skip
        self.post_id = int(
            re.search(r"/posts/(\d+)/edit/", made.headers.get("Location", "")).group(1)
        )
        self.title, self.version, self.saved = title, 1, "Start."

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/", name="dashboard")

    @task(3)
    def post_list(self) -> None:
        self.client.get("/posts/", name="post list")

    @task(2)
    def search(self) -> None:
        with self.client.get(
            f"/posts/search/?q={random.choice(WORDS)}", name="search", catch_response=True
        ) as response:
            if response.status_code in SHED:
                shed["search"] += 1
                response.success()  # shed on purpose, at once: counted apart

    @task(5)
    def autosave(self) -> None:
        body = self.saved + " " + " ".join(random.choices(WORDS, k=8))
        with self.client.post(
            f"/posts/{self.post_id}/autosave/", name="autosave", catch_response=True,
            data={"title": self.title, "body_markdown": body, "excerpt": "", "tags": "",
                  "slug": "", "version": self.version, "csrfmiddlewaretoken": self.csrf},
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf},
        ) as response:  # fmt: skip
            saved = re.search(r"Saved version (\d+)", response.text or "")
            if saved:
                self.version, self.saved = int(saved.group(1)), body
            elif response.status_code in SHED:
                response.failure("autosave shed")  # it must not be: counted as a failure
            elif response.status_code == 0:  # no answer: the connection broke (or the run ended)
                response.failure("autosave got no answer")
            else:
                response.failure(f"autosave not saved: {response.status_code}")

    @task(1)
    def ask_for_a_draft(self) -> None:
        page = self.client.get("/generate/", name="draft form")
        topic = f"{random.choice(WORDS)} and {random.choice(WORDS)}"
        with self.client.post(
            "/generate/", name="draft request", catch_response=True,
            data={"topic": topic, "channel": "general", "max_new_tokens": 48,
                  "csrfmiddlewaretoken": csrf_of(page.text)},
        ) as response:  # fmt: skip
            # Refused past the per-person or queue cap (400, with a sentence) is the designed
            # answer under load.
            if response.status_code == 400 or response.status_code in SHED:
                shed["draft request"] += 1
            if response.status_code in (200, 302, 400, *SHED):
                response.success()

    def on_stop(self) -> None:
        # Lost means: the post no longer holds the last text the server said it saved. (A save
        # still on its way when the run stopped may have made a newer version: that is fine,
        # each autosave's text extends the one before.)
        page = self.client.get(f"/posts/{self.post_id}/edit/", name="check autosave")
        version = re.search(r'id="id_version" value="(\d+)"', page.text or "")
        stored = int(version.group(1)) if version else 0
        if stored < self.version or self.saved not in (page.text or ""):
            events.request.fire(
                request_type="CHECK",
                name="autosave lost",
                response_time=0,
                response_length=0,
                exception=AssertionError("the last autosave is not in the post"),
                context={},
            )


class ApiClient(FastHttpUser):
    """An external site reading the published posts, half the time conditionally."""

    weight = 1
    wait_time = between(0.5, 2)
    network_timeout = connection_timeout = 30.0

    def on_start(self) -> None:
        self.etags: dict[str, str] = {}
        self.slugs: list[str] = []

    @task(2)
    def list_posts(self) -> None:
        headers = (
            {"If-None-Match": self.etags["list"]}
            if "list" in self.etags and random.random() < 0.5
            else {}
        )
        with self.client.get(
            "/api/v1/posts/", name="api list", headers=headers, catch_response=True
        ) as r:
            if r.status_code == 200:
                self.etags["list"] = r.headers.get("ETag", "")
                self.slugs = [post["slug"] for post in r.json()["results"]] or self.slugs
            if r.status_code in SHED:
                shed["api list"] += 1  # the per-IP throttle: every simulated site shares one
            if r.status_code in (200, 304, *SHED):
                r.success()

    @task(3)
    def read_post(self) -> None:
        if not self.slugs:
            return self.list_posts()
        slug = random.choice(self.slugs)
        headers = (
            {"If-None-Match": self.etags[slug]}
            if slug in self.etags and random.random() < 0.5
            else {}
        )
        with self.client.get(
            f"/api/v1/posts/{slug}/", name="api detail", headers=headers, catch_response=True
        ) as r:
            if r.status_code == 200:
                self.etags[slug] = r.headers.get("ETag", "")
            if r.status_code in SHED:
                shed["api detail"] += 1
            if r.status_code in (200, 304, *SHED):
                r.success()
