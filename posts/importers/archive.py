"""Entry points: walk a folder or a zip, recognise each file's format, hand it to its parser.

Nothing here raises for a bad file: every problem becomes an ImportSkip and the batch goes on.
"""

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from .common import (
    WORDPRESS_NAMESPACE,
    ImportResult,
    ImportSkip,
    decode_text,
    is_binary,
    short_name,
)
from .feeds import iter_atom, iter_rss
from .html import parse_html
from .markdown import parse_markdown
from .wxr import iter_wxr

MB = 1024 * 1024
# Zip bomb limits: per member, then for the whole archive.
MAX_MEMBER_BYTES = 20 * MB
MAX_COMPRESSION_RATIO = 100
MAX_MEMBERS = 100_000
MAX_ARCHIVE_BYTES = 2048 * MB
# One Markdown or HTML post is never this big; XML is streamed, so it has no such limit.
MAX_TEXT_BYTES = 20 * MB
SNIFF_BYTES = 8192

_KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xml": "xml",
    ".rss": "xml",
    ".atom": "xml",
    ".zip": "zip",
}


def iter_import(path: Path) -> Iterator[ImportResult]:
    """Posts and skips from a folder (walked recursively, in sorted order), a zip, or one file."""
    if path.is_dir():
        yield from _iter_directory(path)
        return
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield ImportSkip(path.name, f"Could not open the file: {exc.strerror}.")
        return
    with stream:
        yield from iter_import_file(path.name, stream)


def iter_import_file(name: str, stream: BinaryIO) -> Iterator[ImportResult]:
    """Posts and skips from one uploaded file, which may be a zip.

    The stream must be seekable, as Django's uploaded files are: zips and XML need it.
    """
    if _kind(name) == "zip":
        yield from _iter_zip(name, stream)
    else:
        yield from _iter_file(name, name, stream)


def _iter_directory(root: Path) -> Iterator[ImportResult]:
    """Every file under `root`; hidden files and folders and `__MACOSX` are left out silently."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not _is_hidden(name))
        for file_name in sorted(name for name in files if not _is_hidden(name)):
            relative = (Path(folder) / file_name).relative_to(root).as_posix()
            try:
                stream = (Path(folder) / file_name).open("rb")
            except OSError as exc:
                yield ImportSkip(relative, f"Could not open the file: {exc.strerror}.")
                continue
            with stream:
                if _kind(file_name) == "zip":
                    yield from _iter_zip(relative, stream)
                else:
                    yield from _iter_file(relative, relative, stream)


def _iter_zip(archive_name: str, stream: IO[bytes]) -> Iterator[ImportResult]:
    """Each member of a zip, read in memory one at a time, within the zip bomb limits."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        yield ImportSkip(archive_name, "Not a readable zip archive.")
        return
    with archive:
        total_bytes = 0
        for count, info in enumerate(archive.infolist(), start=1):
            if count > MAX_MEMBERS:
                reason = f"Archive stopped after {MAX_MEMBERS:,} members; the rest were not read."
                yield ImportSkip(archive_name, reason)
                return
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or any(_is_hidden(part) for part in parts):
                continue
            member_name = f"{archive_name}:{info.filename}"
            skip = _member_skip(member_name, info)
            if skip:
                yield skip
                continue
            total_bytes += info.file_size
            if total_bytes > MAX_ARCHIVE_BYTES:
                reason = "Archive stopped after 2 GB of content; the rest was not read."
                yield ImportSkip(archive_name, reason)
                return
            try:
                member = archive.open(info)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:
                # Encrypted members raise RuntimeError, unknown compression NotImplementedError.
                yield ImportSkip(member_name, f"Could not open this member: {exc}.")
                continue
            with member:
                yield from _iter_file(member_name, info.filename, member)


def _member_skip(member_name: str, info: zipfile.ZipInfo) -> ImportSkip | None:
    """Why a member is not read (its type, a nested zip, its size or ratio), or None."""
    kind = _kind(info.filename)
    if kind is None:
        return _unsupported(member_name, info.filename)
    if kind == "zip":
        return ImportSkip(member_name, "Archives inside archives are not imported.")
    if info.file_size > MAX_MEMBER_BYTES:
        return ImportSkip(member_name, "Larger than 20 MB uncompressed, so not read.")
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        return ImportSkip(member_name, "Compressed over 100 to 1, like a zip bomb, so not read.")
    return None


def _iter_file(source_name: str, source_id: str, stream: IO[bytes]) -> Iterator[ImportResult]:
    """One file; whatever goes wrong becomes an ImportSkip, never an exception."""
    try:
        yield from _parse_file(source_name, source_id, stream)
    except Exception as exc:  # a bad file must never stop the batch
        yield ImportSkip(source_name, f"Could not read this file ({type(exc).__name__}: {exc}).")


def _parse_file(source_name: str, source_id: str, stream: IO[bytes]) -> Iterator[ImportResult]:
    """Steps: check the type, sniff the first 8 KB (empty, binary), then parse by format."""
    kind = _kind(source_id)
    if kind is None or kind == "zip":
        yield _unsupported(source_name, source_id)
        return
    head = stream.read(SNIFF_BYTES)
    if not head.strip():
        yield ImportSkip(source_name, "Empty file.")
        return
    if is_binary(head):
        yield ImportSkip(source_name, "Binary file, not text.")
        return
    if kind == "xml":
        stream.seek(0)
        yield from _iter_xml(source_name, stream)
        return
    data = head + stream.read(MAX_TEXT_BYTES + 1 - len(head))
    if len(data) > MAX_TEXT_BYTES:
        yield ImportSkip(source_name, "Larger than 20 MB, too big for one post.")
        return
    text = decode_text(data)
    if not text.strip():
        yield ImportSkip(source_name, "Empty file.")
    elif kind == "markdown":
        yield parse_markdown(text, source_name=source_name, source_id=source_id)
    else:
        yield parse_html(text, source_name=source_name, source_id=source_id)


def _iter_xml(source_name: str, stream: IO[bytes]) -> Iterator[ImportResult]:
    """Stream an XML file; posts read before a syntax error are kept, then the error is named."""
    # defusedxml refuses entity declarations ("billion laughs") and external references.
    events = iterparse(stream, events=("start-ns", "start", "end"))
    try:
        yield from _dispatch_xml(source_name, events)
    except ParseError as exc:
        line = exc.position[0]
        yield ImportSkip(source_name, f"Malformed XML at line {line}: {ErrorString(exc.code)}.")
    except DefusedXmlException:
        reason = "XML declares entities or external references, refused for safety."
        yield ImportSkip(source_name, reason)
    except LookupError as exc:
        yield ImportSkip(source_name, f"XML declares an encoding Python does not know ({exc}).")


def _dispatch_xml(source_name: str, events: Iterator[tuple[str, Any]]) -> Iterator[ImportResult]:
    """Tell WXR, RSS and Atom apart by the root element and the namespaces declared on it."""
    namespaces: set[str] = set()
    for event, value in events:
        if event == "start-ns":
            namespaces.add(value[1])
        elif event == "start":
            root = value
            break
    else:
        return  # no root element: iterparse has already raised ParseError
    root_name = short_name(root.tag)
    if root_name == "rss" and any(WORDPRESS_NAMESPACE.match(uri) for uri in namespaces):
        yield from iter_wxr(events, root, source_name=source_name)
    elif root_name == "rss":
        yield from iter_rss(events, root, source_name=source_name)
    elif root_name == "atom:feed":
        yield from iter_atom(events, root, source_name=source_name)
    else:
        local_name = root.tag.rpartition("}")[2]
        reason = f"Not a WordPress export, RSS or Atom feed: the root element is <{local_name}>."
        yield ImportSkip(source_name, reason)


def _kind(name: str) -> str | None:
    return _KINDS.get(PurePosixPath(name).suffix.lower())


def _unsupported(source_name: str, file_name: str) -> ImportSkip:
    suffix = PurePosixPath(file_name).suffix.lower()
    return ImportSkip(source_name, f"Unsupported file type {suffix or '(no extension)'}.")


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"
