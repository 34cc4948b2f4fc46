"""CSV text cut into records with numpy: byte spans, 1-based physical lines, field counts.

The tabular importer reads a CSV file a block at a time (:func:`csv_blocks`), each block ending
at a record boundary. A record ends at a newline outside double quotes; fields are separated by
commas outside quotes; quoting follows RFC 4180 as pyarrow reads it (``"a, b"``, ``""`` inside a
quoted field, a quoted field may hold a line break). Everything is vectorised over the block's
bytes (positions of newlines, quotes and commas), so each record keeps its physical line
number and its own text without any per-row Python. A block whose quotes do not pair up is cut
at every newline instead and the lines holding the odd quotes are marked ``faulty``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from tickdeck.core.errors import ImportFormatError

BLOCK_BYTES = 16 << 20  # text cut per step: ~250,000 rows of a typical tick CSV
MAX_RECORD_BYTES = 1 << 26  # one record longer than this means a stray quote or no line breaks
_NL, _CR, _QUOTE, _COMMA = 10, 13, 34, 44


@dataclass(frozen=True)
class Records:
    """One block of CSV text cut into records (byte spans, physical lines, field counts)."""

    buf: bytes
    starts: np.ndarray  # first byte of each record
    ends: np.ndarray  # end of each record's content (exclusive; no newline, no trailing CR)
    spans: np.ndarray  # end of each record including its newline (exclusive)
    lines: np.ndarray  # 1-based physical line where each record starts
    fields: np.ndarray  # fields per record (commas outside quotes + 1)
    faulty: np.ndarray  # misplaced or unbalanced quote
    multiline: bool  # some record holds a newline inside quotes
    next_line: int  # physical line of the first byte after the block

    def text(self, i: int) -> str:
        return self.buf[int(self.starts[i]):int(self.ends[i])].decode("utf-8", "replace")


def _cut(ends: np.ndarray, n: int, eof: bool) -> np.ndarray | None:
    """Record-ending newline positions, with a virtual one at ``n`` for a last line without one."""
    if eof and n and (not ends.size or ends[-1] != n - 1):
        return np.append(ends, n)
    return ends if ends.size else None


def _split(buf: bytes, first_line: int, eof: bool, ncols: int | None = None) -> Records | None:
    """Cut ``buf`` (starting at a record boundary) into whole records; None if none is complete.

    Quotes are read as pyarrow reads them (RFC 4180, ``""`` inside a quoted field). A block whose
    quotes do not pair up that way is cut at every newline instead, and the records holding the
    odd quotes are marked ``faulty``, so one stray quote costs one line, not the rest of the file.
    A record spanning lines must also have the header's ``ncols`` fields to be taken as one.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    n = a.size
    nl = np.flatnonzero(a == _NL)
    qpos = np.flatnonzero(a == _QUOTE)
    if qpos.size:
        outside = (np.searchsorted(qpos, nl) & 1) == 0  # quotes before a newline pair up: it ends a record
        ends = _cut(nl[outside], n, eof)
        if ends is None and (eof or n <= MAX_RECORD_BYTES):
            return None
        if ends is not None:
            rec = _records(buf, a, nl, qpos, ends, first_line)
            if ncols is None and (rec.fields > 0).any():  # first block: the header's own count
                ncols = int(rec.fields[rec.fields > 0][0])
            if not rec.faulty.any() and not (rec.multiline and ncols and _multiline_ragged(rec, nl, ncols)):
                return rec
    ends = _cut(nl, n, eof)
    return None if ends is None else _records(buf, a, nl, qpos, ends, first_line)


def _multiline_ragged(rec: Records, nl: np.ndarray, ncols: int) -> bool:
    inner = np.setdiff1d(nl[nl < rec.spans[-1]], rec.spans - 1, assume_unique=True)
    owners = np.searchsorted(rec.starts, inner, side="right") - 1
    return bool((rec.fields[owners] != ncols).any())


def _records(buf: bytes, a: np.ndarray, nl: np.ndarray, qpos: np.ndarray, ends: np.ndarray,
             first_line: int) -> Records:
    n = a.size
    starts = np.r_[0, ends[:-1] + 1]
    spans = np.minimum(ends + 1, n)
    content = ends - ((ends > starts) & (a[np.maximum(ends - 1, 0)] == _CR))  # drop a CR before the newline
    nrec = starts.size
    seps = np.flatnonzero(a[:int(spans[-1])] == _COMMA)
    faulty = np.zeros(nrec, dtype=bool)
    multiline = False
    if qpos.size:
        qpos = qpos[qpos < spans[-1]]
        q_before_start = np.searchsorted(qpos, starts)
        q_rec = np.searchsorted(starts, qpos, side="right") - 1
        k = np.arange(qpos.size) - q_before_start[q_rec]  # ordinal of each quote within its record
        opening = (k & 1) == 0
        prev = a[np.maximum(qpos - 1, 0)]
        nxt = a[np.minimum(qpos + 1, n - 1)]
        ok_open = (qpos == starts[q_rec]) | (prev == _COMMA) | (prev == _QUOTE)
        ok_close = (qpos + 1 >= content[q_rec]) | (nxt == _COMMA) | (nxt == _QUOTE) | (nxt == _CR) | (nxt == _NL)
        bad = np.where(opening, ~ok_open, ~ok_close)
        faulty[q_rec[bad]] = True
        faulty |= (np.searchsorted(qpos, spans) - q_before_start) & 1 == 1  # unbalanced
        s_rec = np.searchsorted(starts, seps, side="right") - 1
        inside = ((np.searchsorted(qpos, seps) - q_before_start[s_rec]) & 1) == 1
        seps = seps[~inside]
        multiline = bool(np.setdiff1d(nl[nl < spans[-1]], spans - 1, assume_unique=True).size)
    s_rec = np.searchsorted(starts, seps, side="right") - 1
    s_rec = s_rec[seps < content[s_rec]]
    fields = np.bincount(s_rec, minlength=nrec) + 1
    fields[content == starts] = 0  # blank line
    lines = first_line + np.searchsorted(nl, starts)
    next_line = first_line + int(np.searchsorted(nl, spans[-1]))
    return Records(buf, starts, content, spans, lines, fields, faulty, multiline, next_line)


def open_stream(path: Path):
    try:
        return pa.input_stream(str(path), compression="detect")
    except (OSError, pa.ArrowException) as e:
        raise ImportFormatError(f"{path}: cannot open: {e}") from None


def csv_blocks(path: Path, block_bytes: int, ncols: Callable[[], int | None]) -> Iterator[Records]:
    """The file's records, a block at a time, each block ending at a record boundary."""
    line, carry, first = 1, b"", True
    with open_stream(path) as stream:
        while True:
            try:
                data = stream.read(block_bytes)
            except (OSError, pa.ArrowException) as e:
                raise ImportFormatError(f"{path}: cannot read as csv near line {line}: {e}") from None
            if first:
                data, first = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data), False  # UTF-8 BOM
            eof = not data
            buf = carry + data if carry else data
            if not buf:
                return
            rec = _split(buf, line, eof, ncols())
            if rec is None:
                if len(buf) > MAX_RECORD_BYTES:
                    raise ImportFormatError(f"{path}, line {line}: a record longer than {MAX_RECORD_BYTES >> 20} MB "
                                            "(an unclosed quote, or no line breaks?)")
                carry = buf
                continue
            yield rec
            line, carry = rec.next_line, buf[int(rec.spans[-1]):]
            if eof:
                return


def keep_bytes(rec: Records, keep: np.ndarray) -> pa.Buffer:
    """The text of the kept records only (zero-copy when none is dropped)."""
    n = int(rec.spans[-1])
    if keep.all():
        return pa.py_buffer(memoryview(rec.buf)[:n])
    a = np.frombuffer(rec.buf, dtype=np.uint8)[:n]
    marks = np.zeros(n + 1, dtype=np.int8)
    marks[rec.starts[keep]] += 1  # positions are unique within each of the two sets
    marks[rec.spans[keep]] -= 1
    return pa.py_buffer(a[np.cumsum(marks[:-1], dtype=np.int8) > 0])


def csv_line_texts(path: str | Path, lines) -> dict[int, str]:
    """The text of the given 1-based physical lines of a CSV file (one pass, stops after the last)."""
    want = sorted({int(x) for x in lines if x})
    out: dict[int, str] = {}
    if not want:
        return out
    k, line, carry = 0, 1, b""
    with open_stream(Path(path)) as stream:
        while k < len(want):
            data = stream.read(BLOCK_BYTES)
            buf = carry + data
            if not data:
                parts, carry = [buf], b""
            else:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    carry = buf
                    continue
                if want[k] >= line + buf.count(b"\n", 0, cut):  # nothing wanted in this block
                    line += buf.count(b"\n", 0, cut)
                    carry = buf[cut:]
                    continue
                parts, carry = buf[:cut - 1].split(b"\n"), buf[cut:]
            for text in parts:
                if k < len(want) and line == want[k]:
                    out[line] = text.rstrip(b"\r").decode("utf-8", "replace")
                    k += 1
                line += 1
            if not data:
                break
    return out
