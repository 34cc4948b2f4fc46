"""``tickdeck worker``: run queued jobs in this process (scale-out: start several).

With ``--scheduler`` the process also runs the persistent scheduler, the market triggers and
the service supervisor (live collection): one such process per database, instead of the
server's embedded one.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("worker", help="run queued jobs (several workers may share one PostgreSQL database)")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
    p.add_argument("--kinds", default="", help="comma-separated job kinds this worker takes (default: all)")
    p.add_argument("--slots", type=int, default=None,
                   help="jobs run at once, each in its own thread (default TICKDECK_WORKER_SLOTS, 2)")
    p.add_argument("--scheduler", action="store_true",
                   help="also run the persistent scheduler, the market triggers and the long-running services "
                        "(live collection); one process per database")
    p.add_argument("--stale-after", type=float, default=None,
                   help="seconds without a heartbeat before a running job counts as orphaned")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="also serve this worker's Prometheus metrics on this port (no auth: keep it private)")
    p.add_argument("--metrics-address", default="127.0.0.1", help="address of --metrics-port (default loopback)")
    p.set_defaults(func=run)


def run(args) -> int:
    import signal

    from tickdeck.app.wiring import load_settings, open_context
    from tickdeck.core.metrics_setup import enable_multiprocess

    enable_multiprocess(load_settings().data_dir)  # before anything imports prometheus_client: its jobs are counted
    from tickdeck.jobs.queue import STALE_AFTER_S
    from tickdeck.jobs.worker import Worker

    ctx = open_context()
    if args.metrics_port is not None:
        from tickdeck.core.metrics import start_exporter

        start_exporter(args.metrics_port, args.metrics_address)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] or None
    w = Worker(ctx, kinds=kinds, stale_after_s=args.stale_after or STALE_AFTER_S,
               slots=args.slots or ctx.settings.worker_slots)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    sched = sup = None
    if args.scheduler:
        from tickdeck.core.services import Supervisor
        from tickdeck.jobs.scheduler import Scheduler

        sup = Supervisor(ctx)
        sup.start()
        sched = Scheduler(ctx)
        if ctx.settings.market_triggers:  # TICKDECK_MARKET_TRIGGERS=0: no automatic open/close actions
            sched.install_market_triggers()
        sched.start()
    print(f"worker {w.worker_id} started with {w.slots} slot(s)" + (" and the service supervisor" if sup else ""),
          flush=True)
    try:
        n = w.run(once=args.once, max_jobs=args.max_jobs)
    finally:
        if sched is not None:
            sched.shutdown()
        if sup is not None:
            sup.shutdown()  # each service gets its bounded final flush
        ctx.close()
    counts = {}
    for r in w.ran:
        counts[r.status] = counts.get(r.status, 0) + 1
    ran = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"
    print(f"worker {w.worker_id} ran {n} job(s): " + ran)
    return 0
