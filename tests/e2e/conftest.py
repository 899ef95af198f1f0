"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

`make test` installs Chromium where it can (root with apt); without /usr/bin/chromium these
tests are skipped with that reason (they fail instead where CI is set). Playwright never
downloads a browser of its own.
"""

import os
from pathlib import Path

import pytest

from tests.tools import skip_or_fail_without

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    if not CHROMIUM.exists():
        skip_or_fail_without("Debian's chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop; Django's async-safety check would refuse
    # the ORM calls the test makes around it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def sign_in(browser, live_server):  # noqa: ANN001, ANN201
    """A function that opens a fresh browser page signed in as `user`."""
    from tests.accounts.factories import PASSWORD

    pages, refused = [], []

    def _sign_in(user):  # noqa: ANN001, ANN202
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = context.new_page()
        # Every browser test is also a Content-Security-Policy test: whatever the policy refused
        # (a script, a style, a connection) fails the test that met it. (Playwright's
        # wait_for_function takes "() => …" functions here: a bare expression needs eval.)
        page.on(
            "console",
            lambda message: (
                refused.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        pages.append(context)
        return page

    yield _sign_in
    for context in pages:
        context.close()
    assert not refused, "The Content-Security-Policy refused:\n" + "\n".join(refused)
