"""Two compliance officers in a real browser: one pastes a clinical note, the other reviews the
highlighted findings beside the raw text, marks a missed word, checks the words the engine was
unsure of with the keyboard (approval waits for them) and approves. The uploader is never
offered the decision."""

import time
from pathlib import Path

import pytest
from allauth.mfa.adapter import get_adapter
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)

from accounts.roles import Role
from compliance.models import ClinicalNote, DeidFinding, NoteChunk
from compliance.selectors import note_chunk_search
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test" / "screenshots"

NOTE = (
    "Patient Walter Okafor (MRN 55129034) was seen on 03/14/2023 at Lakeside Regional Medical "
    "Center.\nHe is a retired welder and lives in Dunmore with his wife Hope.\n"
    "Daughter Adaeze can be reached at 570-555-0142. Plan: sertraline 50 mg daily, BP 128/82.\n"
    "Nickname on the ward: Tiger.\nCase manager spoke with Zorblat; callback code 40718."
)


def officer_with_totp():  # noqa: ANN201
    user = UserFactory(roles=[Role.COMPLIANCE_OFFICER])
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return user, secret


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def sign_in_with_totp(browser, live_server, user, secret):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.fill("input[name=code]", current_code(secret))
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_paste_review_mark_and_approve(browser, live_server, celery_worker_process) -> None:  # noqa: ANN001
    assert get_adapter() is not None  # allauth's MFA app is installed
    uploader, uploader_secret = officer_with_totp()
    reviewer, reviewer_secret = officer_with_totp()

    page = sign_in_with_totp(browser, live_server, uploader, uploader_secret)
    page.click("nav >> text=Clinical notes")
    page.click("text=Add notes")
    page.fill("#id_paste-text", NOTE)
    page.click("button:has-text('De-identify')")
    page.wait_for_selector("#deid-text")
    assert "Walter" not in page.inner_text("#deid-text")
    assert "another compliance officer must review" in page.inner_text("#decision")
    assert page.locator("button:has-text('Approve')").count() == 0

    review = sign_in_with_totp(browser, live_server, reviewer, reviewer_secret)
    review.click("nav >> text=Clinical notes")
    review.click("table >> a")
    review.wait_for_selector("#raw-text mark")
    assert review.locator("#deid-text mark").count() >= 6  # name, MRN, date, hospital, …
    assert "sertraline 50 mg" in review.inner_text("#deid-text")  # the safelist kept

    note = ClinicalNote.objects.get()
    start = NOTE.index("Tiger")
    if not note.findings.filter(start__lte=start, end__gte=start + 5).exists():
        review.fill("#mark-form input[name=start]", str(start))
        review.fill("#mark-form input[name=end]", str(start + 5))
        review.select_option("#mark-form select[name=category]", "ID")
        review.click("#mark-form button:has-text('Mark')")
        review.wait_for_function(
            "() => !document.querySelector('#deid-text').innerText.includes('Tiger')"
        )
        assert note.findings.filter(detector="reviewer").count() == 1
    assert "Tiger" not in review.inner_text("#deid-text")

    # Words the engine was unsure of: their own colour, a count, one key each.
    assert review.locator("#raw-text mark.suspect").count() == 2
    assert "2 words to check" in review.inner_text("#suspect-count")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    review.screenshot(path=str(SCREENSHOTS / "clinical-review.png"), full_page=True)
    review.locator("#raw-text mark.suspect").first.focus()
    review.keyboard.press("f")  # "Zorblat" becomes a finding
    review.wait_for_function(
        "() => document.querySelector('#suspect-count').innerText.includes('1 word to check')"
    )
    assert "Zorblat" not in review.inner_text("#deid-text")
    zorblat = NOTE.index("Zorblat")
    assert note.findings.filter(start=zorblat, detector="reviewer").exists()

    review.click("button:has-text('Approve')")  # refused: one word is still to check
    assert "1 word still to check" in review.inner_text("main")
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.PENDING
    review.go_back()
    review.reload()
    review.locator("#raw-text mark.suspect").first.focus()
    review.keyboard.press("d")  # the pager number: dismissed here, to show the other key
    review.wait_for_function(
        "() => document.querySelector('#suspect-count').innerText.includes('All 2 words checked')"
    )
    assert review.locator("#raw-text mark.suspect").count() == 0

    review.click("button:has-text('Approve')")
    review.wait_for_selector("text=approved; its raw text is purged")
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.APPROVED and note.reviewed_by == reviewer
    assert note.raw_encrypted == ""
    assert DeidFinding.objects.filter(note=note).exists()
    # The worker embeds the approved note for clinical retrieval (and finishes before teardown
    # empties the tables under it).
    deadline = time.monotonic() + 90
    while not NoteChunk.objects.filter(note=note).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    hits = note_chunk_search("retired welder on sertraline")
    assert hits and hits[0].note_id == note.id
