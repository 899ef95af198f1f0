"""PostgreSQL backend that starts the embedded server on first connection.

Used only when DATABASE_URL is unset. Starting lazily, at connect time rather than at settings
import, keeps `manage.py help`, `ruff` and the like from booting a database they never use. It
is django-prometheus's PostgreSQL backend (connections, queries and errors counted for /metrics),
as DATABASE_URL's is.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django_prometheus.db.backends.postgresql import base

from blogllm import pgembed


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        try:
            server = pgembed.ensure_running(Path(self.settings_dict["EMBEDDED_PGDATA"]))
        except pgembed.EmbeddedPostgresError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        self.settings_dict["HOST"] = server.socket_dir
        self.settings_dict["PORT"] = str(server.port)
        return super().get_connection_params()
