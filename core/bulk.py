"""Bulk work over many symbol-days: rebuild bars, re-validate, recompute indicators — serially in
this process or on a Dask distributed cluster.

:func:`run_bulk` ``(ctx, op, symbols, start, end, dask=None)`` plans one task per stored symbol-day
(``op`` is ``bars``, ``validate`` or ``indicators``) and runs each through the normal store verbs
(:func:`core.bars.build_default_bars`, :func:`core.validation.validate_day`,
:func:`core.indicators.build.build_derived_day`). With ``dask`` (a scheduler address such as
``tcp://scheduler:8786``, or ``local`` / ``local:N`` for a :class:`distributed.LocalCluster` of N
worker processes on this machine) every task runs on a cluster worker, which opens the same
storage (S3 or a shared LMDB, and the SQL database) from the :class:`~core.config.Settings` it is
sent, once per worker process. The results are the ones the serial path writes: the same function
runs in both.

Indicators also build each day's local breadth over every symbol stored that day; a day's
McClellan oscillator reads the days before it, so the breadth tasks form a chain (oldest first)
that runs beside the per-symbol tasks.

A failing symbol-day (a :class:`~core.errors.TickdeckError`, such as a day with bad ticks) is
reported in the summary and the others go on; any other exception stops the run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from tickdeck.core import naming
from tickdeck.core.errors import DayNotFound, TickdeckError
from tickdeck.core.progress import Progress

OPERATIONS = ("bars", "validate", "indicators")
CONNECT_TIMEOUT_S = 10  # waiting for a remote scheduler to answer


class BulkError(TickdeckError):
    """A bulk run cannot start: unknown operation, bad cluster address, or a cluster that cannot be reached."""


@dataclass(frozen=True)
class TaskResult:
    """One symbol-day's outcome. ``symbol`` is ``""`` for a day's breadth task."""

    op: str
    symbol: str
    day: str
    ok: bool
    detail: str  # bars: series written; validate: the status; indicators: rows; or the error
    seconds: float

    def to_dict(self) -> dict:
        return {"op": self.op, "symbol": self.symbol, "day": self.day, "ok": self.ok, "detail": self.detail,
                "seconds": round(self.seconds, 4)}


@dataclass
class BulkSummary:
    op: str
    engine: str  # "serial" or the cluster's scheduler address
    results: list[TaskResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if not r.ok]

    @property
    def symbol_days(self) -> int:
        return sum(1 for r in self.results if r.symbol)

    def to_dict(self) -> dict:
        return {"op": self.op, "engine": self.engine, "symbol_days": self.symbol_days,
                "failed": [r.to_dict() for r in self.failed], "seconds": round(self.seconds, 3)}

    def describe(self) -> str:
        bad = self.failed
        text = (f"{self.op}: {self.symbol_days} symbol-days on {self.engine} in {self.seconds:.1f} s"
                + (f"; {len(bad)} failed" if bad else ""))
        for r in bad[:10]:
            text += f"\n  {r.symbol or 'breadth'} {r.day}: {r.detail}"
        return text


# -- one task ------------------------------------------------------------------------------------------
def run_task(ctx, op: str, symbol: str, day: str, specs: tuple[str, ...] = ()) -> TaskResult:
    """Run one symbol-day (``symbol=""``: one day's breadth) of ``op`` with ``ctx``; the serial path and
    every cluster worker call this."""
    t0 = time.perf_counter()
    try:
        if op == "bars":
            from tickdeck.core.bars import build_default_bars

            rows = build_default_bars(ctx, symbol, day, specs=list(specs) or None)
            detail = f"{len(rows)} series"
        elif op == "validate":
            from tickdeck.core.validation import validate_day

            detail = validate_day(ctx, symbol, day, use_cache=False).status
        elif op == "indicators":
            from tickdeck.core.indicators.build import build_breadth_day, build_derived_day

            if symbol:
                if not build_derived_day(ctx, symbol, day):
                    raise DayNotFound(symbol, day)
                detail = "derived"
            else:
                detail = f"{build_breadth_day(ctx, naming.as_date(day))} breadth rows"
        else:
            raise BulkError(f"unknown bulk operation {op!r} (one of {', '.join(OPERATIONS)})")
        return TaskResult(op, symbol, day, True, detail, time.perf_counter() - t0)
    except TickdeckError as e:
        return TaskResult(op, symbol, day, False, str(e), time.perf_counter() - t0)


_contexts: dict = {}
_contexts_lock = threading.Lock()


def _worker_context(settings):
    """This worker process's context for ``settings`` (opened once, reused by later tasks)."""
    from tickdeck.core.context import Context

    key = (settings.arctic_uri, settings.sql_url, settings.redis_url)
    with _contexts_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = _contexts[key] = Context.open(settings)
        return ctx


def cluster_task(settings, op: str, symbol: str, day: str, specs: tuple[str, ...] = (), after=None) -> TaskResult:
    """:func:`run_task` on a cluster worker. ``after`` is a task this one waits for (the breadth chain)."""
    return run_task(_worker_context(settings), op, symbol, day, specs)


# -- planning and running -----------------------------------------------------------------------------
def plan(ctx, op: str, symbols: Iterable[str] | None, start, end,
         days: Iterable | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The stored symbol-days of ``symbols`` (all stored symbols when ``None``) in ``[start, end]`` (and
    among ``days`` when given), and for ``indicators`` the days whose breadth is built (oldest first).

    Raises
    ------
    BulkError
        Unknown ``op``.
    DayNotFound
        Nothing stored in the range.
    """
    if op not in OPERATIONS:
        raise BulkError(f"unknown bulk operation {op!r} (one of {', '.join(OPERATIONS)})")
    s, e = naming.date_range(start, end)
    if symbols:
        wanted = [naming.normalize_ticker(x) for x in symbols]
    else:
        wanted = sorted({naming.parse_tick_symbol(n).ticker for n in ctx.store.list_series(naming.TICKS_LIBRARY)})
    only = {naming.as_date(d) for d in days} if days is not None else None
    items = [(sym, naming.format_day(d)) for sym in wanted for d in ctx.store.list_days(sym)
             if s <= d <= e and (only is None or d in only)]
    if not items:
        raise DayNotFound(", ".join(wanted) or "(no symbols)", f"{s}..{e}")
    days = sorted({d for _, d in items}) if op == "indicators" else []
    return items, days


def run_bulk(ctx, op: str, symbols: Iterable[str] | None, start, end, *, specs: Iterable[str] = (),
             days: Iterable | None = None, dask: str | None = None,
             progress: Callable[[Progress], None] | None = None) -> BulkSummary:
    """Run ``op`` over every stored symbol-day of ``symbols`` in ``[start, end]`` (only ``days`` of it when
    given; see the module docstring).

    Raises
    ------
    BulkError
        Unknown ``op``, or the cluster at ``dask`` cannot be reached.
    DayNotFound
        Nothing stored in the range.
    InvalidBarSpec
        A bar spec does not parse (checked before any task runs).
    """
    items, days = plan(ctx, op, symbols, start, end, days)
    specs = tuple(specs)
    if specs:
        from tickdeck.core.bars import parse_spec

        specs = tuple(str(parse_spec(x)) for x in specs)
    total = len(items) + len(days)
    t0 = time.perf_counter()
    if dask:
        summary = _run_on_cluster(ctx.settings, op, items, days, specs, dask, progress, total)
    else:
        summary = BulkSummary(op, "serial")
        tasks = [(sym, d) for sym, d in items] + [("", d) for d in days]
        for k, (sym, d) in enumerate(tasks, 1):
            summary.results.append(run_task(ctx, op, sym, d, specs))
            if progress is not None:
                progress(Progress(op, k, total, f"{sym or 'breadth'} {d}"))
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_on_cluster(settings, op, items, days, specs, address, progress, total) -> BulkSummary:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise BulkError(f"--dask needs the 'distributed' package: {e}") from None
    cluster = None
    try:
        if address == "local" or address.startswith("local:"):
            n = int(address.partition(":")[2] or 2)
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as e:
        if cluster is not None:
            cluster.close()
        raise BulkError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    summary = BulkSummary(op, client.scheduler.address)
    try:
        futures = [client.submit(cluster_task, settings, op, sym, d, specs, key=f"{op}-{sym}-{d}", pure=False)
                   for sym, d in items]
        prev = None
        for d in days:  # the breadth chain: each day after the one before
            prev = client.submit(cluster_task, settings, op, "", d, specs, prev, key=f"{op}-breadth-{d}", pure=False)
            futures.append(prev)
        for k, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            summary.results.append(r)
            if progress is not None:
                progress(Progress(op, k, total, f"{r.symbol or 'breadth'} {r.day}"))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    order = {(sym, d): i for i, (sym, d) in enumerate(items + [("", d) for d in days])}
    summary.results.sort(key=lambda r: order[(r.symbol, r.day)])
    return summary

