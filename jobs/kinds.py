"""Job kinds: plain functions ``fn(ctx, params, *, progress) -> dict`` registered by name.

The runner looks a job's ``kind`` up in :data:`KINDS`, calls it with the job's params and a
``progress`` callable (which raises :class:`jobs.queue.JobCancelled` once a cancel is
requested) and stores the returned dict as the job's result. Services built elsewhere are
imported lazily at their agreed signatures, so this module imports without them.

========== ================================================================================
kind       params
========== ================================================================================
collect    ``symbols``, ``days`` (list) or ``start``/``end``; ``mode="live"`` for live L1 (prefer
           the ``live`` service, :mod:`core.services`: it takes no worker slot)
backfill   ``symbols`` (default: watchlist), ``start``, ``end``; queues child jobs per source
           (``collect`` for IQFeed datasets, ``generate`` for synthetic ones) and waits for them
build-bars ``symbol``, ``days`` or ``start``/``end``; ``specs`` (default: the default set)
validate   ``symbol``, ``days`` or ``start``/``end``; ``score`` also stores each day's quality score,
           ``use_cache`` false re-runs the validators
finalize   ``symbols``, ``day``: collect the day (IQFeed datasets only; a day the live service is
           writing is left to it), default bars, validate, configured exports
export     see :class:`core.export.ExportRequest` (``symbols``, ``start``, ``end``, ``spec``, …)
retention  ``dry_run`` (bool), optional ``policy`` overrides
backup     ``to`` or ``root`` with ``keep_daily``/``keep_weekly``/``keep_monthly`` (:class:`core.backup.BackupParams`)
health     none
generate   ``symbols``, ``start``/``end`` or ``days``, ``seed``, ``ticks``, ``faults`` (synthetic market)
import     ``file`` (an upload in ``<data_dir>/uploads``, :mod:`core.uploads`), ``symbol``, optional
           ``source``, ``calendar``, ``mapping``, ``format``, ``replace``; fails when a stored day
           was left as it was (``replace`` false), as ``tickdeck import`` exits 1
========== ================================================================================

``indicators_build`` takes ``start``, ``end`` (or ``days``/``day``) and optional ``symbols`` (derived
metrics only for these; breadth always over every symbol stored that day), parsed into
:class:`IndicatorsBuildParams`, and runs :func:`core.indicators.build.build_indicators`.

With ``TICKDECK_DASK_ADDRESS`` set, ``build-bars``, ``validate`` (without ``score``) and
``indicators_build`` run their symbol-days on that Dask cluster (:func:`core.bulk.run_bulk`): the
same store verbs, one task per symbol-day; a failed symbol-day fails the job naming it.

A kind that queues child jobs does so with ``progress.spawn(kind, params, priority=…)`` (the
runner's :class:`tickdeck.jobs.runner.JobProgress`); it then waits for them without holding a worker
slot and fails with a child's error when a child fails. Kinds do not import the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tickdeck.core.errors import JobError
from tickdeck.core.live_service import STOP_GRACE_S
from tickdeck.core.naming import as_date, format_day
from tickdeck.core.progress import Progress
from tickdeck.jobs.registry import KIND_NAMES

KindFn = Callable[..., dict]  # a result's "note" (text) is added to the job's final message
KINDS: dict[str, KindFn] = {}


def register(name: str):
    """Decorator: register ``fn(ctx, params, *, progress)`` as job kind ``name`` (listed in
    :data:`jobs.registry.KIND_NAMES`, which the queue checks submissions against)."""
    if name not in KIND_NAMES:
        raise JobError(f"job kind {name!r} is not in tickdeck.jobs.registry.KIND_NAMES; add it there")

    def deco(fn: KindFn) -> KindFn:
        KINDS[name] = fn
        return fn

    return deco


def get_kind(name: str) -> KindFn:
    try:
        return KINDS[name]
    except KeyError:
        raise JobError(f"unknown job kind {name!r}; choose one of {', '.join(sorted(KINDS))}") from None


def _symbols(params: dict, ctx=None) -> list[str]:
    syms = params.get("symbols") or ([params["symbol"]] if params.get("symbol") else [])
    if isinstance(syms, str):
        syms = [s for s in syms.replace(",", " ").split() if s]
    if not syms and ctx is not None:
        from tickdeck.core.backfill import watchlist

        syms = watchlist(ctx)
    if not syms:
        raise JobError("job params need 'symbols' (a list) or 'symbol'")
    return list(syms)


def _days(ctx, params: dict, symbol: str | None = None) -> list:
    if params.get("days"):
        days = params["days"]
        return [as_date(d) for d in (days.split(",") if isinstance(days, str) else days)]
    if params.get("day"):
        return [as_date(params["day"])]
    if params.get("start") and params.get("end"):
        cal = ctx.calendar_for(symbol) if symbol else ctx.calendar()
        return cal.trading_days(params["start"], params["end"])
    raise JobError("job params need 'days', 'day' or 'start' and 'end'")


@register("collect")
def collect(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.feed_status import install as keep_feed_status

    keep_feed_status(ctx)  # the feed clients' last status outlives the job (pages, /api/v1/feeds/status)
    symbols = _symbols(params)
    if params.get("mode") == "live":
        return _collect_live(ctx, symbols, params, progress)
    from tickdeck.core.collect import collect_days

    days = _days(ctx, params)
    out = collect_days(ctx, symbols, days, host=params.get("host"), port_history=params.get("port_history"),
                       progress=progress)
    return {"symbols": symbols, "days": [format_day(d) for d in days], "result": _jsonable(out)}



def _market_now(ctx):
    """The market's clock (tz-aware ET): the demo feed's when one is configured (``TICKDECK_DEMO_NOW``,
    :func:`core.demo_clock.market_now`), else the wall clock."""
    import pandas as pd

    from tickdeck.core.demo_clock import market_now

    ts = market_now(getattr(ctx, "settings", None))
    return ts if ts is not None else pd.Timestamp.now(tz="America/New_York")


def _at_market_time(ctx, end, on_end, halt) -> None:
    """Call ``on_end`` once the market clock (:func:`_market_now`) reaches ``end``, unless ``halt`` is set
    first. The time left is measured on that clock again after each wait: a demo clock runs ``demo_speed``
    times the wall clock (speed 0: it stands still and is read again every second)."""
    settings = getattr(ctx, "settings", None)
    speed = float(getattr(settings, "demo_speed", 1.0)) if getattr(settings, "demo_now", "") else 1.0
    while not halt.is_set():
        left = (end - _market_now(ctx)).total_seconds()
        if left <= 0:
            on_end()
            return
        halt.wait(min(left / speed, 60.0) if speed > 0 else 1.0)


def _collect_live(ctx, symbols, params: dict, progress) -> dict:
    """Stream L1 until cancelled, or until ``day``'s extended session ends (plus a grace) on the market
    clock (:func:`_market_now`: a demo feed's emulated clock when configured)."""
    import threading

    import pandas as pd

    from tickdeck.core.live import collect_live
    from tickdeck.jobs.errors import JobCancelled

    stop = getattr(progress, "cancelled", None) or threading.Event()
    timer, session_over, halt = None, threading.Event(), threading.Event()

    def end_of_session() -> None:
        session_over.set()
        stop.set()

    if params.get("day"):
        cal = ctx.calendar()
        day = as_date(params["day"])
        if cal.is_trading_day(day):
            end = cal.bounds(day).after_close + pd.Timedelta(seconds=STOP_GRACE_S)
            if end <= _market_now(ctx):
                raise JobError(f"live collection for {day} is too late: its session ended at {end}")
            timer = threading.Thread(target=_at_market_time, args=(ctx, end, end_of_session, halt), daemon=True,
                                     name=f"tickdeck-session-end-{day}")
            timer.start()
    def live_progress(p) -> None:  # a cancel stops the run (bounded final flush) instead of raising through it
        try:
            progress(p)
        except JobCancelled:
            stop.set()

    try:
        out = collect_live(ctx, symbols, stop_event=stop, host=params.get("host"), progress=live_progress)
    finally:
        halt.set()
    if stop.is_set() and not session_over.is_set():  # the note says what the bounded final flush stored
        raise JobCancelled(getattr(progress, "job_id", None), note=out.stop.message if out.stop else "")
    return {"mode": "live", "result": _jsonable(out)}


@register("generate")
def generate(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.sources.synthetic import generate_into_store

    opts = dict(seed=int(params.get("seed", 0)), faults=tuple(params.get("faults") or ()), ticks=params.get("ticks"))
    if params.get("days"):  # e.g. a backfill's missing days of a synthetic dataset
        days = _days(ctx, params)
        res = []
        for i, day in enumerate(days, 1):
            res += generate_into_store(ctx, _symbols(params), day, day, **opts)
            progress(Progress("generate", i, len(days), str(day)))
    else:
        res = generate_into_store(ctx, _symbols(params), params["start"], params["end"], progress=progress, **opts)
    return {"days": len(res), "ticks": int(sum(r.info.ticks for r in res))}


def _on_cluster(ctx, op: str, params: dict, progress, symbols=None, specs=()):
    """``op`` over the job's symbol-days on the Dask cluster of ``TICKDECK_DASK_ADDRESS`` (core/bulk.py)."""
    from tickdeck.core.bulk import run_bulk

    syms = _symbols(params) if symbols is None else symbols
    days = _days(ctx, params, syms[0] if syms else None)
    if not days:
        raise JobError(f"{op}: no trading days in the range given")
    out = run_bulk(ctx, op, syms or None, min(days), max(days), days=days, specs=specs,
                   dask=ctx.settings.dask_address, progress=progress)
    if out.failed:
        raise JobError(out.describe())
    return out


@register("build-bars")
def build_bars(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.bars import build_default_bars

    if ctx.settings.dask_address:
        out = _on_cluster(ctx, "bars", params, progress, specs=params.get("specs") or ())
        return {"built": [f"{r.symbol}/{r.day}" for r in out.results], "bulk": out.to_dict()}
    done = []
    for sym in _symbols(params):
        days = _days(ctx, params, sym)
        for i, day in enumerate(days, 1):
            build_default_bars(ctx, sym, day, specs=params.get("specs") or None, progress=None)
            done.append(f"{sym}/{format_day(day)}")
            progress(Progress("build-bars", i, len(days), f"{sym} {day}"))
    return {"built": done}


@dataclass(frozen=True)
class IndicatorsBuildParams:
    """What an ``indicators_build`` job is asked: a day range and optionally the symbols."""

    start: str
    end: str
    symbols: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: dict) -> "IndicatorsBuildParams":
        """From a job's params; ``days``/``day`` stand for the range they span.

        Raises
        ------
        JobError
            No range given, or ``end`` before ``start``.
        """
        from tickdeck.core.errors import InvalidDateRange
        from tickdeck.core.naming import date_range, normalize_ticker

        if params.get("days") or params.get("day"):
            days = params.get("days") or [params["day"]]
            days = sorted(as_date(d) for d in (days.split(",") if isinstance(days, str) else days))
            start, end = days[0], days[-1]
        elif params.get("start") and params.get("end"):
            start, end = params["start"], params["end"]
        else:
            raise JobError("indicators_build needs 'start' and 'end' (or 'days')")
        try:
            s, e = date_range(start, end)
        except InvalidDateRange as ex:
            raise JobError(f"indicators_build: {ex}") from None
        syms = params.get("symbols") or ()
        if isinstance(syms, str):
            syms = syms.replace(",", " ").split()
        return cls(format_day(s), format_day(e), tuple(normalize_ticker(x) for x in syms))


@register("indicators_build")
def indicators_build(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.indicators.build import build_indicators

    p = IndicatorsBuildParams.parse(params)
    if ctx.settings.dask_address:
        bulk = _on_cluster(ctx, "indicators", {"start": p.start, "end": p.end}, progress, list(p.symbols))
        return {"bulk": bulk.to_dict(), "note": f"{bulk.symbol_days} symbol-days of derived metrics on {bulk.engine}"}
    out = build_indicators(ctx, p.start, p.end, list(p.symbols) or None, progress=progress)
    return out.to_dict() | {"note": f"{len(out.days)} days, {out.derived} symbol-days of derived metrics"}


@register("validate")
def validate(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.validation import quality_score, validate_day

    if ctx.settings.dask_address and not params.get("score"):
        bulk = _on_cluster(ctx, "validate", params, progress)  # the full reports are in the validation history
        return {"validated": {f"{r.symbol}/{r.day}": {"status": r.detail} for r in bulk.results},
                "bulk": bulk.to_dict()}
    out = {}
    scores = {}
    for sym in _symbols(params):
        days = _days(ctx, params, sym)
        for i, day in enumerate(days, 1):
            report = validate_day(ctx, sym, day, use_cache=bool(params.get("use_cache", True)))
            out[f"{sym}/{format_day(day)}"] = _jsonable(report)
            if params.get("score"):  # POST /api/v1/quality/validate: score the day from this report too
                scores[f"{sym}/{format_day(day)}"] = quality_score(ctx, sym, day, report=report).score
            progress(Progress("validate", i, len(days), f"{sym} {day}"))
    return {"validated": out, **({"scores": scores} if params.get("score") else {})}


@register("finalize")
def finalize(ctx, params: dict, *, progress) -> dict:
    """End-of-day pipeline: collect the whole day, build default bars, validate, export.

    Only IQFeed datasets are collected (others are listed under ``skipped`` with the reason).
    A symbol-day the ``live`` service is writing right now is not collected again from history
    (two writers of one day would collide): its bars and validation run on what live
    collection stored, and live collection rewrites the day whole at the end of the extended
    session (:func:`core.collect.finalize_day`).
    """
    from tickdeck.core.backfill import FEED, collect_route
    from tickdeck.core.bars import build_default_bars
    from tickdeck.core.collect import collect_days
    from tickdeck.core.export import ExportRequest, export
    from tickdeck.core.services import ServiceControl
    from tickdeck.core.validation import validate_day

    requested, day = _symbols(params, ctx), as_date(params["day"])
    routes = [collect_route(ctx, s) for s in requested]
    skipped = {r.symbol: r.reason or f"not collected at the close: {r.symbol} is a {r.via} dataset"
               for r in routes if r.via != FEED}
    symbols = [r.symbol for r in routes if r.via == FEED]
    live = set(ServiceControl(ctx).collecting_live(day))
    to_collect = [s for s in symbols if s not in live]
    steps = 3 * len(symbols) + 1
    if to_collect:
        collect_days(ctx, to_collect, [day], progress=None)
    progress(Progress("finalize", len(symbols), steps, f"collected {day}"))
    hooks_ran = bool(ctx.extras.get("after_write"))  # the post-ingest pipeline already built bars + validated
    for i, sym in enumerate(symbols):
        if not hooks_ran or sym in live:
            build_default_bars(ctx, sym, day, progress=None)
            validate_day(ctx, sym, day)
        progress(Progress("finalize", len(symbols) + 2 * (i + 1), steps, f"{sym} bars + validation"))
    exports = []
    for cfg in (ctx.catalog.get_config("close_exports", []) or []) if symbols else []:
        req = ExportRequest.from_params({**cfg, "symbols": cfg.get("symbols") or symbols,
                                         "start": format_day(day), "end": format_day(day)}, ctx.settings)
        exports.append(export(ctx, req).to_dict())
    progress(Progress("finalize", steps, steps, "done"))
    return {"day": format_day(day), "symbols": symbols, "live": sorted(live & set(symbols)), "skipped": skipped,
            "exports": exports}


@register("export")
def export_kind(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.export import ExportRequest, export

    return export(ctx, ExportRequest.from_params(params, ctx.settings), progress=progress).to_dict()


@register("import")
def import_kind(ctx, params: dict, *, progress) -> dict:
    """Import an uploaded file (``tickdeck import`` semantics, ``replace`` as ``--replace``); the
    upload is deleted once every day is imported, kept for a retry otherwise."""
    from tickdeck.core.sources.files import import_file
    from tickdeck.core.uploads import check_upload_path, remove_upload

    path = check_upload_path(ctx.settings, params.get("file") or "")
    if not params.get("symbol"):
        raise JobError("an import job needs 'symbol'")
    report = import_file(ctx, path, symbol=params["symbol"], source=params.get("source"),
                         calendar=params.get("calendar"), mapping=params.get("mapping") or None,
                         fmt=params.get("format"), replace=bool(params.get("replace", False)), progress=progress)
    days = [{"day": format_day(d.day), "ticks": d.ticks} for d in report.days]
    out = {"symbol": report.symbol, "source": report.source, "format": report.fmt, "calendar": report.calendar,
           "ticks": report.ticks, "rejected": report.rejected, "days": days,
           "refused": [{"day": format_day(d), "reason": why} for d, why in report.refused]}
    if report.refused:
        first = report.refused[0]
        raise JobError(f"{len(report.refused)} stored day(s) of {report.symbol} left as they were "
                       f"({format_day(first[0])}: {first[1]}); imported {len(days)} other day(s); "
                       "retry with replace=true to replace them")
    remove_upload(ctx.settings, path)
    return out


@register("retention")
def retention(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.retention import RetentionPolicy, apply_retention

    policy = RetentionPolicy.from_config(ctx, overrides=params.get("policy"))
    return apply_retention(ctx, policy, dry_run=bool(params.get("dry_run", False)), progress=progress).to_dict()


@register("backup")
def backup(ctx, params: dict, *, progress) -> dict:
    """``to`` (a new directory) or ``root`` (rotated backups) with ``keep_daily``/``keep_weekly``/
    ``keep_monthly``: :class:`core.backup.BackupParams`."""
    from tickdeck.core.backup import BackupParams, run_backup

    return run_backup(ctx, BackupParams.parse(params), progress=progress).to_dict()


@register("health")
def health(ctx, params: dict, *, progress) -> dict:
    from tickdeck.core.health import check_health

    rep = check_health(ctx, publish=True)
    progress(Progress("health", 1, 1, rep.status))
    return rep.to_dict()


@register("backfill")
def backfill(ctx, params: dict, *, progress) -> dict:
    """Plan the gaps and queue one child job per symbol and chunk of days (priority 2), each to
    its dataset's source; wait for them (the job fails with a child's error when one fails).

    A dataset that no feed collects (an import) queues nothing: it is listed under ``skipped``
    with the reason ("not collectable from a feed").
    """
    from tickdeck.core.backfill import NOT_COLLECTABLE, plan_backfill, plan_stale, submit_plans

    spawn = getattr(progress, "spawn", None)  # tickdeck.jobs.runner.JobProgress
    if spawn is None:
        raise JobError("a backfill queues child jobs: run it through the job queue (tickdeck jobs start backfill …)")
    if params.get("start") and params.get("end"):
        plans = [plan_backfill(ctx, s, params["start"], params["end"]) for s in _symbols(params, ctx)]
    else:
        plans = plan_stale(ctx)
    ids = submit_plans(plans, lambda kind, p, prio: spawn(kind, p, priority=prio, requested_by="backfill"))
    skipped = {p.symbol: p.reason for p in plans if p.via is None and p.days}
    note = f"skipped {', '.join(skipped)}: {NOT_COLLECTABLE}" if skipped else ""
    progress(Progress("backfill", 1, 1, f"queued {len(ids)} job(s)" + (f"; {note}" if note else "")))
    return {"queued": ids, "skipped": skipped, "plans": [p.to_dict() for p in plans], "note": note}


def _jsonable(x):
    """Best-effort JSON form of a service's return value for the job's result column."""
    import dataclasses
    import datetime as dt

    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _jsonable(dataclasses.asdict(x))
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "to_dict"):
        try:
            return _jsonable(x.to_dict())
        except Exception:  # noqa: BLE001 - fall through to repr
            pass
    return repr(x)[:500]
