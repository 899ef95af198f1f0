"""`python -m blogllm.preflight`: check settings and services before a process starts.

Exits 0 when the data dir is writable and Redis and PostgreSQL (with pgvector) answer; otherwise
prints one sentence naming the setting to fix and exits 1. Containers run it before gunicorn;
`make run` runs the same checks.
"""

import os
import sys


def fail(sentence: str) -> None:
    print(f"Cannot start BlogLLM: {sentence}", file=sys.stderr)  # noqa: T201
    sys.exit(1)


def setup_django() -> None:
    """django.setup(), turning a bad setting into one sentence and exit code 1."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogllm.settings.local")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        fail(str(exc))


def main() -> None:
    setup_django()
    from blogllm import checks

    problem = checks.first_startup_problem()
    if problem is not None:
        fail(problem.sentence)


if __name__ == "__main__":
    main()
