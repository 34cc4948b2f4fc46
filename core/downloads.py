"""Serving finished exports: the output path of an export checked to lie in the exports directory,
a fresh output name per request, and a partitioned export (a directory) as a streamed zip.

Nothing outside ``<data_dir>/exports`` is ever served: the path a job recorded is resolved
(symlinks followed) and must be inside the resolved exports directory.
"""

from __future__ import annotations

import secrets
import zipfile
from pathlib import Path
from typing import Iterator

from tickdeck.core.errors import NotFound, PermissionDenied

ZIP_CHUNK = 1 << 20  # bytes read per file chunk while zipping a partitioned export


class ExportFileMissing(NotFound):
    """The export's output is gone (removed by hand or by retention)."""


def exports_dir(settings) -> Path:
    return Path(settings.exports_dir).resolve()


def unique_out(settings, default_out: Path, token: str | None = None) -> Path:
    """``default_out``'s name in the exports directory, prefixed with a random token, so that two
    requests for the same export never write one file."""
    return exports_dir(settings) / f"{token or secrets.token_hex(4)}_{Path(default_out).name}"


def resolve_export(settings, out: str | Path) -> Path:
    """The export's output (file or directory), resolved, when it lies in the exports directory.

    Raises
    ------
    PermissionDenied
        It is outside the exports directory.
    ExportFileMissing
        It does not exist.
    """
    root = exports_dir(settings)
    p = Path(out).resolve()
    if not p.is_relative_to(root) or p == root:
        raise PermissionDenied(f"{Path(out).name}: only files in the exports directory are served")
    if not p.exists():
        raise ExportFileMissing(f"{p.name} is no longer in the exports directory (deleted or removed by retention)")
    return p


class _Sink:
    """A write-only file object collecting what zipfile writes, handed out in pieces."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.pos = 0

    def write(self, b) -> int:
        self.parts.append(bytes(b))
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def zip_directory(root: Path) -> Iterator[bytes]:
    """The files under ``root`` as a zip (stored: Parquet is compressed already), streamed in
    pieces of about :data:`ZIP_CHUNK` bytes without a temporary file; names relative to ``root``."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            with open(path, "rb") as src, zf.open(path.relative_to(root).as_posix(), "w", force_zip64=True) as dst:
                while chunk := src.read(ZIP_CHUNK):
                    dst.write(chunk)
                    if sink.pos and sink.parts:
                        yield sink.take()
        # the central directory is written on close
    tail = sink.take()
    if tail:
        yield tail
