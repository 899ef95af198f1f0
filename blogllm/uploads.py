"""Upload limits by kind, one rule for every web form that takes a file (posts' import,
clinical notes and note batches). Commands (`manage.py import_posts`) have no limit."""

from pathlib import Path

from django.conf import settings

# Which kind of upload a file is, by its suffix; each kind has its limit in UPLOAD_LIMITS_MB.
KINDS = {
    ".zip": "archive",
    ".xml": "export", ".rss": "export", ".atom": "export",
    ".md": "document", ".markdown": "document", ".html": "document", ".htm": "document",
    ".txt": "document",
    ".docx": "docx",
    ".csv": "csv",
}  # fmt: skip
NAMES = {
    "archive": "an archive",
    "export": "an export or feed file",
    "document": "a single Markdown, HTML or text file",
    "docx": "a Word document",
    "csv": "a CSV file",
}
SETTINGS = {
    "archive": "BLOGLLM_MAX_IMPORT_MB",
    "export": "BLOGLLM_MAX_EXPORT_MB",
    "document": "BLOGLLM_MAX_DOCUMENT_MB",
    "docx": "BLOGLLM_MAX_DOCX_MB",
    "csv": "BLOGLLM_MAX_CSV_MB",
}


def upload_problem(name: str, size: int) -> str | None:
    """The sentence that refuses this upload, or None. An unknown suffix gets the archive's
    limit: the importer itself says which formats it reads."""
    if size == 0:
        return "The file is empty."
    kind = KINDS.get(Path(name).suffix.lower(), "archive")
    limit_mb = settings.UPLOAD_LIMITS_MB[kind]
    if size > limit_mb * 1024 * 1024:
        return (
            f"The file is {_megabytes(size)} MB; {NAMES[kind]} is limited to {limit_mb} MB "
            f"({SETTINGS[kind]})."
        )
    return None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0")
