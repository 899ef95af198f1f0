"""A clinical note with a name and a phone number goes through intake, review and a clinical
draft; neither is in any log line (as production writes them), metric or Sentry event after.
And what a careless log line or exception would leak, Sentry's scrubber removes."""

import io
import json
import logging

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from blogllm import context, metrics
from blogllm.logging import JsonFormatter
from blogllm.observability import scrub_text, sentry_options
from compliance.models import ClinicalNote
from compliance.services.embedding import note_embed
from generation.services.execute import generation_run_execute
from generation.services.runs import generation_run_start
from tests.compliance.factories import decided, make_officer

NAME, PHONE = ("Margaret", "Holloway"), "617-555-0142"
EMAIL = "margaret.holloway@example.org"  # (not beside a raise: frames carry source lines)
NOTE = (
    "Mrs. Margaret Holloway was seen on the ward today. She slept poorly and is anxious about "
    f"going home; her daughter can be reached at {PHONE}. Reassured; sleep hygiene discussed."
)


def leaks(text: str) -> list[str]:
    digits = PHONE.replace("-", "")
    found = [part for part in (*NAME, PHONE, digits) if part in text]
    return found


class Captured(Transport):
    """A Sentry transport that keeps the envelopes instead of sending them."""

    envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        Captured.envelopes.append(envelope)

    @classmethod
    def payload(cls) -> str:
        return "\n".join(
            item.get_bytes().decode("utf-8", "replace") for e in cls.envelopes for item in e.items
        )


@pytest.fixture
def telemetry():  # noqa: ANN201
    """Log lines as production writes them (JSON, INFO, the request context) and Sentry as
    production starts it, with a transport that keeps what it would have sent."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(context.ContextFilter())
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level, root.level = root.level, logging.INFO
    root.addHandler(handler)
    Captured.envelopes = []
    sentry_sdk.init(
        dsn="https://public@sentry.example.org/1", transport=Captured, **sentry_options()
    )
    try:
        yield stream
    finally:
        sentry_sdk.flush()
        sentry_sdk.init(dsn=None)
        root.removeHandler(handler)
        root.level = level


@pytest.mark.django_db
def test_a_clinical_note_and_draft_leave_no_name_or_phone_in_logs_metrics_or_sentry(
    client, telemetry, tiny_model_dir
) -> None:  # noqa: ANN001
    uploader, reviewer = make_officer(), make_officer()
    client.force_login(uploader)
    response = client.post(
        "/compliance/notes/new/", {"kind": "paste", "paste-title": "Ward round", "paste-text": NOTE}
    )
    assert response.status_code == 302, response.content[:300]
    note = ClinicalNote.objects.get()
    decided(note, by=reviewer, status=ClinicalNote.Status.APPROVED)
    note_embed(note_id=note.id)
    run = generation_run_start(
        channel="clinical",
        brief={"topic": f"Sleep before discharge, as {NAME[0]} {NAME[1]} ({PHONE}) asked"},
        by=reviewer, sampling={"max_new_tokens": 16, "seed": 1},
        base_model=str(tiny_model_dir), enqueue=False,
    )  # fmt: skip
    run = generation_run_execute(run_id=run.id)
    assert run.status in ("succeeded", "needs_review"), run.traceback
    client.force_login(reviewer)
    assert client.get(f"/generate/runs/{run.id}/").status_code == 200
    sentry_sdk.capture_message("clinical flow finished")  # carries the flow's breadcrumbs
    sentry_sdk.flush()

    lines = telemetry.getvalue()
    assert '"embedded note"' in lines  # the flow did log
    assert not leaks(lines), [line for line in lines.splitlines() if leaks(line)][:3]
    assert not leaks(metrics.exposition().decode())
    sent = Captured.payload()
    assert "clinical flow finished" in sent
    assert not leaks(sent)


def test_sentry_scrubs_what_a_careless_log_line_or_exception_would_leak(telemetry) -> None:  # noqa: ANN001
    logging.getLogger("compliance.careless").warning("parsing %s", NOTE)  # a breadcrumb
    logging.getLogger("compliance.careless").error("could not parse %s", NOTE)
    try:
        raise ValueError(f"bad note: {NOTE}")
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    with sentry_sdk.new_scope() as scope:
        scope.set_extra("note", NOTE)
        scope.set_user({"id": 7, "email": EMAIL})
        sentry_sdk.capture_message("with extras")
    sentry_sdk.flush()

    sent = Captured.payload()
    events = [
        json.loads(line)
        for line in sent.splitlines()
        if line.startswith('{"') and '"event_id"' in line
    ]
    assert len(events) >= 3, sent[:500]
    assert "bad note" in sent and "could not parse" in sent  # the reports are still useful
    assert not leaks(sent), [part for part in leaks(sent)]
    assert EMAIL not in sent and '"id":7' in sent.replace(" ", "")


def test_the_scrubber_keeps_ordinary_words() -> None:
    assert scrub_text("Task posts.tasks.post_embed failed: connection reset") == (
        "Task posts.tasks.post_embed failed: connection reset"
    )
    assert not leaks(scrub_text(NOTE))
