"""Job progress: kept on the job's row, written as the task goes, shown by its page."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from blogllm.progress import JobProgress
from compliance.models import NoteBatch
from compliance.services import intake
from compliance.tasks import note_batch_run_task
from tests.compliance.factories import make_officer


@pytest.mark.parametrize(
    ("done", "total", "finished", "failed", "percent"),
    [
        (3, 12, False, False, 25),
        (0, 0, False, False, 0),  # nothing counted yet
        (12, 12, False, False, 99),  # every item done, the job not yet ended
        (30, 12, False, False, 99),  # the total was an estimate
        (12, 12, True, False, 100),
        (0, 0, True, False, 100),  # an empty job that finished
        (6, 12, True, True, 50),  # a failed job keeps where it stopped
    ],
)
def test_percent(done: int, total: int, finished: bool, failed: bool, percent: int) -> None:
    assert JobProgress(done, total, finished, failed).percent == percent


@pytest.mark.django_db
def test_a_task_writes_its_progress_to_the_row_and_the_page_shows_it(client, monkeypatch) -> None:  # noqa: ANN001
    officer = make_officer()
    rows = "text\n" + "".join(f'"Seen for sleep, visit {n}."\n' for n in range(4))
    batch = intake.note_batch_create(
        uploaded_file=SimpleUploadedFile("four.csv", rows.encode()), by=officer
    )
    client.force_login(officer)
    url = reverse("compliance:batch", args=[batch.id])

    def fragment() -> str:
        return client.get(url, headers={"HX-Request": "true"}).content.decode()

    queued = fragment()
    assert 'value="0"' in queued and 'hx-trigger="every 1s"' in queued

    seen: list[tuple[int, str, bool]] = []  # after each row: done, the bar, still polling
    one_row = intake._one_row

    def one_row_then_look(*args: object) -> None:
        one_row(*args)
        html = fragment()  # what the page shows while the task is still running
        bar = re.search(r'<progress max="100" value="(\d+)">', html)
        items_done = NoteBatch.objects.get(id=batch.id).items_done
        seen.append((items_done, bar and bar[1], "hx-trigger" in html))

    monkeypatch.setattr(intake, "_one_row", one_row_then_look)
    note_batch_run_task.apply(kwargs={"note_batch_id": batch.id}).get()
    assert seen == [(1, "25", True), (2, "50", True), (3, "75", True), (4, "99", True)]

    done = fragment()
    assert 'value="100"' in done and "hx-trigger" not in done
    assert "4 of 4 rows" in done
