"""Rows of one import grouped by session day, in memory up to a budget and in Arrow IPC files beyond.

A file need not be sorted by time, so a day is complete only when the whole file has been
read, and each day must be written whole, once. The importer therefore reads the file in
chunks, hands each chunk's rows to :class:`DaySpool` with their session days, and writes the
days after the last chunk. The spool keeps rows in memory until they pass ``budget_bytes``;
then everything it holds goes to one Arrow IPC file (one record batch per day and chunk) in
its directory, and memory starts again from zero. :meth:`DaySpool.take` gathers one day's rows
— from the spill files, read batch by batch, then from memory — in the order they were added.

Peak memory is the budget plus the largest day, whatever the file's size. A file that fits in
the budget never touches the disk. The directory lives under ``<data_dir>/tmp`` and is removed
by :meth:`DaySpool.close` (or the ``with`` block); directories left by a killed import are
removed by :func:`sweep_stale` at the next import.

Warnings
--------
Spill files take about as much disk as the rows' arrays (64 bytes per row for the importer's
eight columns): 640 MB for a 10,000,000-row file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

PREFIX = "import-"


def sweep_stale(tmp_root: Path) -> int:
    """Remove spool directories of imports whose process is gone; returns how many."""
    removed = 0
    if not tmp_root.is_dir():
        return 0
    for p in tmp_root.glob(f"{PREFIX}*"):
        try:
            pid = int(p.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DaySpool:
    """Per-day rows (named numpy columns of one schema) across chunks; see the module docstring."""

    def __init__(self, tmp_root: Path, budget_bytes: int):
        self.directory = Path(tmp_root) / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.budget = int(budget_bytes)
        self._mem: dict[np.datetime64, list[dict[str, np.ndarray]]] = defaultdict(list)
        self._mem_bytes = 0
        self._spilled: dict[np.datetime64, list[tuple[int, int]]] = defaultdict(list)
        self._files: list[Path] = []
        self._rows: dict[np.datetime64, int] = defaultdict(int)
        self.spills = 0  # how many times memory went to disk

    def __enter__(self) -> "DaySpool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, days: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """Add rows: ``days[i]`` (datetime64[D]) is the session day of row ``i`` of every column."""
        if days.size == 0:
            return
        if days[0] == days[-1] and (days == days[0]).all():  # the usual chunk: one day, no regrouping
            self._put(days[0], columns)
        else:
            order = np.argsort(days, kind="stable")
            d = days[order]
            cuts = np.flatnonzero(d[1:] != d[:-1]) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, d.size]):
                sel = order[lo:hi]
                self._put(d[lo], {k: v[sel] for k, v in columns.items()})
        if self._mem_bytes > self.budget:
            self._spill()

    def _put(self, day: np.datetime64, piece: dict[str, np.ndarray]) -> None:
        self._mem[day].append(piece)
        self._rows[day] += len(next(iter(piece.values())))
        self._mem_bytes += sum(v.nbytes for v in piece.values())

    def spill(self) -> None:
        """Move every row held in memory to a spill file (nothing to do when memory is empty)."""
        if self._mem_bytes:
            self._spill()

    def _spill(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        k = len(self._files)
        path = self.directory / f"spill-{k:05d}.arrow"
        batch_no = 0
        writer = None
        with pa.OSFile(str(path), "wb") as sink:
            for day, pieces in self._mem.items():
                for piece in pieces:
                    batch = pa.record_batch(piece)
                    if writer is None:
                        writer = pa.ipc.new_file(sink, batch.schema)
                    writer.write_batch(batch)
                    self._spilled[day].append((k, batch_no))
                    batch_no += 1
            if writer is not None:
                writer.close()
        self._files.append(path)
        self._mem.clear()
        self._mem_bytes = 0
        self.spills += 1

    def days(self) -> list[np.datetime64]:
        """Days holding rows, ascending."""
        return sorted(d for d, n in self._rows.items() if n)

    def rows(self, day: np.datetime64) -> int:
        return self._rows.get(day, 0)

    def take(self, day: np.datetime64, columns: list[str] | None = None, *,
             keep: bool = False) -> dict[str, np.ndarray]:
        """All rows of ``day`` in the order they were added (only ``columns``, default all).

        The spool forgets the day unless ``keep`` (then :meth:`take` can read other columns of
        it later, and :meth:`forget` drops it). The result is filled piece by piece, so taking a
        day needs its own size plus one piece.
        """
        total = self._rows.get(day, 0)
        out: dict[str, np.ndarray] = {}
        at = 0
        for piece in self._pieces(day, columns, keep):
            n = len(next(iter(piece.values())))
            if not out:
                if n == total:  # the whole day in one piece: no copy
                    out = dict(piece)
                    break
                out = {name: np.empty(total, dtype=v.dtype) for name, v in piece.items()}
            for name, v in piece.items():
                out[name][at:at + n] = v
            at += n
        if not keep:
            self.forget(day)
        return out

    def forget(self, day: np.datetime64) -> None:
        """Drop every row of ``day``."""
        self._rows.pop(day, None)
        self._spilled.pop(day, None)
        mem = self._mem.pop(day, [])
        self._mem_bytes -= sum(v.nbytes for p in mem for v in p.values())

    def _pieces(self, day: np.datetime64, columns: list[str] | None, keep: bool):
        by_file: dict[int, list[int]] = defaultdict(list)
        for k, b in self._spilled.get(day, ()):
            by_file[k].append(b)
        for k, batches in sorted(by_file.items()):
            with pa.OSFile(str(self._files[k]), "rb") as f:
                reader = pa.ipc.open_file(f)
                for b in batches:
                    rb = reader.get_batch(b)
                    names = rb.schema.names if columns is None else columns
                    yield {name: rb.column(name).to_numpy(zero_copy_only=False) for name in names}
                    del rb
        for piece in (self._mem.get(day, []) if keep else self._mem.pop(day, [])):
            if not keep:
                self._mem_bytes -= sum(v.nbytes for v in piece.values())
            yield piece if columns is None else {name: piece[name] for name in columns}

    def close(self) -> None:
        """Forget every row and remove the spill files."""
        self._mem.clear()
        self._spilled.clear()
        self._rows.clear()
        self._mem_bytes = 0
        if self.directory.exists():
            shutil.rmtree(self.directory, ignore_errors=True)
