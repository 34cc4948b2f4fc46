"""``tickdeck backup --to DIR``: a consistent copy of the ArcticDB libraries and the SQL database.

Example::

    tickdeck backup --to /mnt/backups/tickdeck-2026-11-30
    tickdeck backup --root /mnt/backups --keep-daily 7 --keep-weekly 4 --keep-monthly 12

``--root`` writes a backup named by the UTC time into that folder and then deletes the ones the
daily/weekly/monthly retention no longer keeps (what the scheduled ``backup`` job does).
Restore with ``tickdeck restore --from DIR`` into an empty data directory (see docs/backups.md).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("backup", help="back up the store and the SQL database into a new directory")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", default="", help="new (or empty) directory to write the backup into")
    where.add_argument("--root", default="", help="folder of rotated backups: a new one named by the time")
    p.add_argument("--keep-daily", type=int, default=7, help="with --root: newest backup of each of N days")
    p.add_argument("--keep-weekly", type=int, default=4, help="with --root: ... of each of N ISO weeks")
    p.add_argument("--keep-monthly", type=int, default=12, help="with --root: ... of each of N months")
    p.add_argument("--queue", action="store_true", help="queue it as a job instead of running it here")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.backup import BackupParams, run_backup
    from tickdeck.core.progress import TqdmProgress

    params = BackupParams.parse({"to": args.to, "root": args.root, "keep_daily": args.keep_daily,
                                 "keep_weekly": args.keep_weekly, "keep_monthly": args.keep_monthly})
    ctx = open_context(pipeline=False)
    try:
        if args.queue:
            from tickdeck.jobs.queue import JobQueue

            jid = JobQueue(ctx.catalog.engine, ctx.bus).submit("backup", params.to_params(), requested_by="cli")
            print(f"queued backup job {jid}")
            return 0
        bar = TqdmProgress()
        try:
            res = run_backup(ctx, params, progress=bar)
        finally:
            bar.close()
    finally:
        ctx.close()
    man = res.manifest
    rows = sum(e["rows"] for syms in man.libraries.values() for e in syms.values())
    print(f"backed up {man.symbols:,} symbols ({rows:,} rows) in {len(man.libraries)} libraries and "
          f"{len(man.sql_tables)} SQL tables to {res.path} ({man.elapsed_s:.2f} s)")
    if res.deleted:
        print(f"rotation deleted {len(res.deleted)} older backup(s): {', '.join(res.deleted)}")
    return 0
