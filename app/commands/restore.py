"""``tickdeck restore --from DIR``: a backup into an empty data directory.

Example::

    TICKDECK_DATA_DIR=/srv/tickdeck-restored tickdeck restore --from /mnt/backups/2026-11-30T020000Z

The target (``TICKDECK_DATA_DIR``, and ``TICKDECK_ARCTIC_URI`` / ``TICKDECK_SQL_URL`` when set)
must be empty: restore refuses otherwise and writes nothing. Every frame is checked against the
backup's manifest (sha256). Not ``restore-day``, which brings back a kept version of one day.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("restore", help="restore a backup (tickdeck backup) into an empty data directory",
                       description="Restore a backup made by `tickdeck backup` into an empty data directory. "
                                   "To bring back an earlier version of one stored day, see `tickdeck restore-day`.")
    p.add_argument("--from", dest="src", required=True, metavar="DIR", help="the backup directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import load_settings
    from tickdeck.core.backup import restore
    from tickdeck.core.progress import TqdmProgress

    bar = TqdmProgress()
    try:
        rep = restore(load_settings(), args.src, progress=bar)
    finally:
        bar.close()
    print(f"restored {rep.symbols:,} symbols ({rep.rows:,} rows), {sum(rep.sql_tables.values()):,} SQL rows in "
          f"{len(rep.sql_tables)} tables and {rep.tick_days:,} catalogued tick days into {rep.data_dir} "
          f"({rep.elapsed_s:.2f} s)")
    return 0
