"""Compliance settings (blogllm/settings/base.py reads and checks them from the environment)."""

from django.conf import settings


def max_note_chars() -> int:
    """BLOGLLM_MAX_NOTE_CHARS: the longest note accepted, in characters."""
    return settings.MAX_NOTE_CHARS


def deid_time_limit() -> float:
    """BLOGLLM_DEID_TIME_LIMIT: seconds the engine may spend on one note."""
    return float(settings.DEID_TIME_LIMIT)


def deid_rerun_time_limit() -> float:
    """BLOGLLM_DEID_RERUN_TIME_LIMIT: the longer limit of a re-run a reviewer asks for."""
    return float(settings.DEID_RERUN_TIME_LIMIT)


def deid_mode() -> str:
    """BLOGLLM_DEID_MODE: "surrogate" (realistic stand-ins) or "placeholder" ([NAME])."""
    return settings.DEID_MODE
