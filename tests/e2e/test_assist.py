"""An author selects words in the post editor, asks the AI to rewrite them, leaves one change,
takes the rest, and saves. A real worker writes with the tiny random model (what it says is
noise; the plumbing is real): the request, the stream, the hunks, the placing and the record.
"""

import time

import pytest

from accounts.roles import Role
from generation.assist import proposal_hunks
from generation.models import GenerationRun
from posts.diffs import hunks_apply
from tests.accounts.factories import UserFactory
from tests.posts.factories import make_post

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The moon before the selection is one character to Python and two to the textarea: the page
# must convert its offsets.
TEXT = (
    "## Evenings 🌙\n\nI switch the phone off at nine. The quiet hour before bed is mine, and "
    "it makes the next morning easier.\n\nTea helps too."
)
SELECTED = "The quiet hour before bed is mine"


def test_rewrite_a_selection_leave_one_change_take_the_rest_and_save(
    sign_in, live_server, celery_worker_process, settings, tiny_model_dir
) -> None:  # noqa: ANN001
    settings.BASE_MODEL = str(tiny_model_dir)  # the run names it
    author = UserFactory(roles=[Role.AUTHOR])
    post = make_post(author, title="Evenings", body_markdown=TEXT)

    page = sign_in(author)
    page.goto(f"{live_server.url}/posts/{post.id}/edit/")
    page.evaluate(
        """(part) => {
            const box = document.getElementById('id_body_markdown');
            const at = box.value.indexOf(part);
            box.focus();
            box.setSelectionRange(at, at + part.length);
        }""",
        SELECTED,
    )
    page.fill("#assist-instruction", "warmer")
    page.click("button:has-text('Rewrite selection')")
    page.wait_for_selector("#assist-actions:not([hidden])", timeout=180_000)

    run = GenerationRun.objects.get(kind="rewrite")
    assert run.brief["selection"] == SELECTED and run.brief["instruction"] == "warmer"
    pieces = proposal_hunks("rewrite", run.brief, run.output)
    changes = {h.id for h in pieces if h.changed}
    assert page.locator(".hunk").count() == len(changes) >= 1

    page.click('.hunk[data-id="1"] .hunk-toggle')  # leave the first change
    assert page.locator(".hunk.left").count() == 1
    page.click("#assist-apply")
    page.wait_for_selector("#assist-status:has-text('Put in')")

    start = TEXT.index(SELECTED)
    expected = TEXT[:start] + hunks_apply(pieces, changes - {1}) + TEXT[start + len(SELECTED) :]
    assert page.input_value("#id_body_markdown") == expected
    deadline = time.monotonic() + 10
    while run.hunks_accepted is None and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.hunks_accepted == len(changes) - 1 and run.hunks_total == len(changes)

    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Saved")
    post.refresh_from_db()
    assert post.body_markdown.replace("\r\n", "\n") == expected

    # Continue from the end of the first paragraph: each new paragraph is a change; take all.
    cursor = expected.index("\n\nTea helps too.")
    page.evaluate(
        """(at) => {
            const box = document.getElementById('id_body_markdown');
            const text = box.value.replace(/\\r\\n/g, '\\n');
            const units = Array.from(text).slice(0, at).join('').length;  // UTF-16 units
            box.focus();
            box.setSelectionRange(units, units);
        }""",
        cursor,
    )
    page.fill("#assist-instruction", "")
    page.click("button:has-text('Continue from here')")
    page.wait_for_selector("#assist-actions:not([hidden])", timeout=180_000)
    more = GenerationRun.objects.get(kind="continue")
    assert more.brief["start"] == more.brief["end"] == cursor
    pieces = proposal_hunks("continue", more.brief, more.output)
    page.click("#assist-all")
    page.click("#assist-apply")
    page.wait_for_selector("#assist-status:has-text('Put in')")
    inserted = hunks_apply(pieces, {h.id for h in pieces})
    assert page.input_value("#id_body_markdown") == expected[:cursor] + inserted + expected[cursor:]
