"""Progress of long Celery jobs, reported through the task state and read back by the UI.

A task calls `report_progress(self, done=…, total=…, message=…)` as it goes; the page polls
`job_progress(task_id)` (through `blogllm:job`) and draws a progress bar.
"""

from dataclasses import asdict, dataclass

from celery import Task
from celery.result import AsyncResult

PROGRESS = "PROGRESS"


@dataclass(frozen=True)
class JobProgress:
    state: str
    done: int
    total: int
    message: str
    finished: bool
    failed: bool

    @property
    def percent(self) -> int:
        if self.finished and not self.failed:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def as_dict(self) -> dict:
        return {**asdict(self), "percent": self.percent}


def report_progress(task: Task, *, done: int, total: int, message: str = "") -> None:
    task.update_state(state=PROGRESS, meta={"done": done, "total": total, "message": message})


def job_progress(task_id: str) -> JobProgress:
    result = AsyncResult(task_id)
    state = result.state
    meta = result.info if state == PROGRESS and isinstance(result.info, dict) else {}
    failed = state in ("FAILURE", "REVOKED")
    message = meta.get("message", "")
    if failed:
        message = "The job failed." if state == "FAILURE" else "The job was cancelled."
    return JobProgress(
        state=state,
        done=int(meta.get("done", 0)),
        total=int(meta.get("total", 0)),
        message=message,
        finished=result.ready(),
        failed=failed,
    )
