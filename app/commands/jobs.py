"""``tickdeck jobs``: list, start, cancel, retry and reprioritise queued jobs."""

from __future__ import annotations

import json

from tickdeck.core.errors import JobError
from tickdeck.jobs.registry import KIND_NAMES

# What each kind does and takes (the full table: jobs/kinds.py); a test keeps the keys equal to KIND_NAMES.
KIND_HELP = {
    "collect": "symbols, days (list) or start/end; mode=live for live Level 1",
    "backfill": "symbols (default: watchlist), start, end; queues collect/generate jobs per day",
    "build-bars": "symbol, days or start/end, optional specs (list); on TICKDECK_DASK_ADDRESS when set",
    "validate": "symbol, days or start/end; score=true stores quality scores",
    "finalize": "symbols, day: collect the day, default bars, validate, configured exports",
    "export": "symbols, start, end, spec, … (tickdeck.core.export.ExportRequest)",
    "retention": "dry_run (bool), optional policy overrides",
    "health": "no parameters",
    "generate": "symbols, start/end or days, seed, ticks, faults (synthetic market)",
    "import": "file (an upload in <data_dir>/uploads), symbol, optional source, calendar, mapping, format, replace",
    "indicators_build": "start, end (or days/day), optional symbols: breadth and derived-metrics history",
    "backup": "to (a directory) or root with keep_daily/keep_weekly/keep_monthly (rotation)",
}


def register(sub) -> None:
    p = sub.add_parser("jobs", help="list, start, cancel and retry jobs")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    ls = verbs.add_parser("list", help="recent jobs, newest first")
    ls.add_argument("--status", default=None, help="only this status (pending, running, failed, …)")
    ls.add_argument("--kind", default=None)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    import argparse

    kinds = "\n".join(f"  {k:<17}{KIND_HELP[k]}" for k in KIND_NAMES)
    st = verbs.add_parser("start", help="queue a job: tickdeck jobs start export --param symbols=AAPL …",
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          epilog=f"job kinds and their --param keys:\n{kinds}\n\nexample:\n"
                                 "  tickdeck jobs start build-bars --param symbol=AAPL "
                                 "--param days='[\"2024-07-01\"]' --wait")
    st.add_argument("kind", choices=KIND_NAMES, metavar="KIND", help="one of: " + ", ".join(KIND_NAMES))
    st.add_argument("--param", action="append", default=[], metavar="K=V",
                    help="job parameter; JSON values allowed (days='[\"2024-07-01\"]'); repeatable")
    st.add_argument("--priority", type=int, default=1, help="0 high, 1 normal, 2 backfill")
    st.add_argument("--wait", action="store_true", help="run it now in this process and show progress")
    for name, help_ in (("cancel", "cancel a pending or running job"), ("show", "one job with its error")):
        v = verbs.add_parser(name, help=help_)
        v.add_argument("id", type=int)
    rt = verbs.add_parser("retry", help="retry a failed/cancelled/interrupted job, or all failed ones")
    rt.add_argument("id", type=int, nargs="?")
    rt.add_argument("--all-failed", action="store_true")
    pr = verbs.add_parser("priority", help="change a job's priority")
    pr.add_argument("id", type=int)
    pr.add_argument("priority", type=int)
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise JobError(f"--param {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except ValueError:
            out[k.strip()] = v
    return out


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.jobs.queue import JobQueue

    ctx = open_context()
    q = JobQueue(ctx.catalog.engine, ctx.bus)
    if args.verb == "list":
        jobs = q.list(status=args.status, kind=args.kind, limit=args.limit)
        if args.json:
            print(json.dumps([j.to_dict() for j in jobs], indent=2, default=str))
            return 0
        print(f"{'id':>6} {'kind':<11} {'pri':>3} {'status':<11} {'prog':>5} {'retries':>7}  {'created':<19}  message")
        for j in jobs:
            print(f"{j.id:>6} {j.kind:<11} {j.priority:>3} {j.status:<11} {j.progress:>4.0f}% {j.retries:>7}  "
                  f"{j.created_at:%Y-%m-%d %H:%M:%S}  {j.message[:60]}")
        return 0
    if args.verb == "start":
        jid = q.submit(args.kind, parse_params(args.param), priority=args.priority, requested_by="cli")
        print(f"queued job {jid} ({args.kind})")
        if args.wait:
            return _run_now(ctx, q, jid)
        return 0
    if args.verb == "show":
        print(json.dumps(q.get(args.id).to_dict(), indent=2, default=str))
        return 0
    if args.verb == "cancel":
        rec = q.cancel(args.id)
        print(f"job {rec.id}: {'cancel requested' if rec.status == 'running' else rec.status}")
        return 0
    if args.verb == "retry":
        if args.all_failed:
            ids = q.retry_all_failed()
            print(f"re-queued {len(ids)} failed job(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
            return 0
        if args.id is None:
            raise JobError("give a job id or --all-failed")
        print(f"job {q.retry(args.id).id} re-queued")
        return 0
    rec = q.reprioritise(args.id, args.priority)
    print(f"job {rec.id} priority {rec.priority}")
    return 0


def _run_now(ctx, q, jid: int) -> int:
    """Claim exactly this job here, with a tqdm bar fed from the bus."""
    from sqlalchemy import update
    from tqdm import tqdm

    from tickdeck.core import db
    from tickdeck.jobs.queue import default_worker_id
    from tickdeck.jobs.runner import run_job

    worker = f"cli:{default_worker_id()}"
    with q.Session.begin() as s:
        n = s.execute(update(db.Job).where(db.Job.id == jid, db.Job.status == "pending").values(
            status="running", worker=worker, started_at=db.utcnow(), heartbeat_at=db.utcnow())).rowcount
    if not n:
        raise JobError(f"job {jid} was taken by a worker; follow it with: tickdeck jobs show {jid}")
    bar = tqdm(total=100, desc=f"job {jid}", unit="%")
    stop = ctx.bus.listen("jobs", lambda m: (getattr(m.event, "id", None) == jid and m.event.change == "progress")
                          and (setattr(bar, "n", m.event.progress), bar.refresh()))
    try:
        rec = run_job(ctx, q, q.get(jid), worker)
    finally:
        stop()
        bar.close()
    print(f"job {jid}: {rec.status}" + (f"\n{rec.error}" if rec.error else ""))
    return 0 if rec.status == "succeeded" else 1
