"""Progress of long background jobs, kept on the job's own row.

A job (an import, a CSV batch of notes, a training run) writes how far it got to its row in the
same statement as the work it counts, and its page polls the row (htmx, every second) and draws
templates/partials/progress_bar.html. On the row, progress survives a Redis flush and a worker
restart (a resumed job carries on from it), and no page needs Celery's result backend.
"""

from dataclasses import dataclass

from django.db import models


@dataclass(frozen=True)
class JobProgress:
    done: int
    total: int
    finished: bool  # the job has ended, well or not
    failed: bool

    @property
    def percent(self) -> int:
        """100 only once the job has finished well. Until then at most 99: the total may be an
        estimate (an import's items), and work may follow the last item (a run's evaluation)."""
        if self.finished and not self.failed:
            return 100
        return min(99, int(100 * self.done / self.total)) if self.total else 0


class TrackedJob(models.Model):
    """A background job's row: queued → running → finished | failed, and how far it got.

    `items_total` may be an estimate made before the run; the job counts `items_done` up as it
    goes. Used by posts.ImportJob and compliance.NoteBatch; a training run counts optimizer
    steps instead (TrainingRun.progress) but reads as the same JobProgress.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress(self) -> JobProgress:
        return JobProgress(
            done=self.items_done,
            total=self.items_total,
            finished=not self.is_active,
            failed=self.status == self.Status.FAILED,
        )

    @property
    def percent(self) -> int:
        return self.progress.percent
