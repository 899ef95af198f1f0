import os

from django.core.wsgi import get_wsgi_application

from blogllm.observability import otel_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogllm.settings.local")
# Traces of requests when OTEL_EXPORTER_OTLP_ENDPOINT is set: before the app loads its
# middleware (the instrumentation adds its own). gunicorn forks before it loads the app, so
# each worker starts its own exporter.
otel_init(django=True)
application = get_wsgi_application()
