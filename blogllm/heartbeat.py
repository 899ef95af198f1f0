"""A worker's heartbeat on the row it works on, so beat can tell a dead worker from a slow one.

Training and generation runs write `heartbeat_at` from a thread while the worker holds them; a
running row whose heartbeat went stale lost its worker (kill -9, machine gone), and the
recovery job queues it again (training_runs_recover, generation_runs_recover).
"""

import threading

from django.db import close_old_connections, connection
from django.db.models import Model
from django.utils import timezone


class Heartbeat:
    """Writes `heartbeat_at` on one row every `seconds` from a daemon thread, also while the main
    thread is busy loading a model or generating, so only a dead worker goes stale."""

    def __init__(self, model: type[Model], pk: int, *, seconds: float = 15.0) -> None:
        self.model, self.pk, self.seconds = model, pk, seconds
        self.stopped = threading.Event()
        name = f"heartbeat-{model._meta.label_lower}-{pk}"
        self.thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=self.seconds)

    def _beat(self) -> None:
        # The thread has its own database connection: close it, or each run would leak one.
        try:
            while not self.stopped.wait(self.seconds):
                close_old_connections()
                self.model.objects.filter(pk=self.pk).update(heartbeat_at=timezone.now())
        finally:
            connection.close()
