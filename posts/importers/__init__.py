"""Read earlier blog posts from Markdown, WordPress exports, RSS/Atom feeds and HTML files.

Plain Python, no Django: the posts service calls `iter_import` or `iter_import_file` and stores
each ImportedPost; each ImportSkip goes into the per-file report.
"""

from .archive import iter_import, iter_import_file
from .common import ImportedPost, ImportResult, ImportSkip

__all__ = ["ImportResult", "ImportSkip", "ImportedPost", "iter_import", "iter_import_file"]
