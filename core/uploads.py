"""Files uploaded for import: saved only inside ``<data_dir>/uploads`` under a generated name.

A client's file name is never used as a path: only its extension is kept, and only when it is
one the importers recognise (:data:`EXTENSIONS`), so :func:`core.sources.files.detect_format`
still tells the format from the saved name. ``../../etc/passwd.csv`` is saved as
``<data_dir>/uploads/<random>.csv`` like any other name. :func:`check_upload_path` is what the
``import`` job kind checks a queued job's file against (a job's params come from SQL, which
any process may write).
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tickdeck.core.errors import TickdeckError

UPLOADS_DIR = "uploads"
# Longest first: ``x.dbn.zst`` keeps ``.dbn.zst``. The importers' formats (tickdeck.core.sources.files.detect_format).
EXTENSIONS = (".csv.gz", ".csv.bz2", ".csv.zst", ".dbn.zst", ".csv", ".txt", ".parquet", ".pq", ".dbn")
FORMAT_EXTENSIONS = {"csv": ".csv", "parquet": ".parquet", "dbn": ".dbn"}
MAX_UPLOAD_BYTES = 4 * 1024**3  # a month of one busy symbol's ticks as CSV; beyond this, import from the server's disk
CHUNK_BYTES = 1024 * 1024


class UploadError(TickdeckError, ValueError):
    """An upload cannot be accepted (format unknown, too large, outside the uploads directory)."""


@dataclass(frozen=True)
class SavedUpload:
    """Where an upload was saved and what the client called it (for messages only)."""

    path: Path
    client_name: str
    bytes: int


def uploads_dir(settings) -> Path:
    return (Path(settings.data_dir) / UPLOADS_DIR).resolve()


def extension_for(client_name: str, fmt: str | None = None) -> str:
    """The saved file's extension: from ``fmt`` when given, else from the client's name.

    Raises
    ------
    UploadError
        Neither says a format the importers read.
    """
    if fmt:
        if fmt not in FORMAT_EXTENSIONS:
            raise UploadError(f"format {fmt!r} cannot be uploaded; use one of {', '.join(FORMAT_EXTENSIONS)}")
        name = (client_name or "").lower()
        ext = next((e for e in EXTENSIONS if name.endswith(e)), "")
        return ext if ext and ext.startswith(FORMAT_EXTENSIONS[fmt]) else FORMAT_EXTENSIONS[fmt]
    name = (client_name or "").lower()
    for ext in EXTENSIONS:
        if name.endswith(ext):
            return ext
    raise UploadError(f"cannot tell the format of the upload {client_name[-80:]!r} from its name "
                      f"(one of {', '.join(EXTENSIONS)}); pass format ({', '.join(FORMAT_EXTENSIONS)})")


def save_upload(settings, stream: BinaryIO, client_name: str, fmt: str | None = None, *,
                max_bytes: int = MAX_UPLOAD_BYTES) -> SavedUpload:
    """Copy ``stream`` to a new file in ``<data_dir>/uploads`` (name generated, extension checked).

    Raises
    ------
    UploadError
        Unknown format, or more than ``max_bytes`` (the partial file is removed).
    """
    ext = extension_for(client_name, fmt)
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(12)}{ext}"
    written = 0
    try:
        with open(path, "xb") as out:
            while chunk := stream.read(CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadError(f"the upload {client_name[-80:]!r} is larger than {max_bytes:,} bytes")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SavedUpload(path, client_name, written)


def check_upload_path(settings, path: str | Path) -> Path:
    """``path`` (relative: to ``<data_dir>/uploads``) resolved, when it is a file inside that directory.

    Raises
    ------
    UploadError
        It is elsewhere (a symlink out counts as elsewhere) or is not a file.
    """
    folder = uploads_dir(settings)
    p = Path(path)
    p = (p if p.is_absolute() else folder / p).resolve()
    if not p.is_relative_to(folder) or p == folder:
        raise UploadError(f"{path}: an import job reads only uploads in {folder}")
    if not p.is_file():
        raise UploadError(f"{path}: the uploaded file is gone (imported already, or removed by retention)")
    return p


def remove_upload(settings, path: str | Path) -> None:
    """Delete an imported upload (only inside the uploads directory)."""
    folder = uploads_dir(settings)
    p = Path(path)
    p = (p if p.is_absolute() else folder / p).resolve()
    if p.is_relative_to(folder) and p != folder:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
