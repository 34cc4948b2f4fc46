"""``tickdeck deadletters``: list, fix and replay lines a collector could not use."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("deadletters", help="list, fix (--fix) and replay (--replay) dead-letter lines")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--status", default=None, help="only rows with this status (new, replayed, failed)")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--replay", nargs="*", type=int, metavar="ID", default=None,
                   help="re-parse and merge fixed lines into their day (all new/failed when no ID)")
    p.add_argument("--fix", nargs=2, metavar=("ID", "LINE"), help="replace the raw text of one dead letter")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.deadletters import fix, replay
    from tickdeck.core.errors import TickdeckError

    ctx = open_context()
    try:
        if args.fix:
            try:
                id_ = int(args.fix[0])
            except ValueError:
                raise TickdeckError(f"--fix needs a numeric ID, got {args.fix[0]!r}") from None
            fix(ctx, id_, args.fix[1])
            print(f"dead letter {id_} updated; run `tickdeck deadletters --replay {id_}`")
        if args.replay is not None:
            res = replay(ctx, args.replay or None)
            out = {"replayed": list(res.replayed), "failed": [{"id": i, "reason": r} for i, r in res.failed],
                   "days": [f"{s} {d}" for s, d in res.days]}
            if args.json:
                print(json.dumps(out))
            else:
                print(f"replayed {len(res.replayed)} line(s) into {len(res.days)} day(s); {len(res.failed)} failed")
                for i, r in res.failed:
                    print(f"  {i}: {r}")
            return 1 if res.failed else 0
        if args.fix:
            return 0
        rows = ctx.catalog.dead_letters(status=args.status, limit=args.limit)
        if args.json:
            print(json.dumps([{"id": r.id, "source": r.source, "symbol": r.symbol, "raw": r.raw, "reason": r.reason,
                               "created_at": r.created_at.isoformat(), "status": r.status} for r in rows]))
            return 0
        if not rows:
            print("no dead letters")
            return 0
        print(f"{'id':>6}  {'status':8}  {'source':10}  {'symbol':8}  reason / raw")
        for r in rows:
            print(f"{r.id:>6}  {r.status:8}  {r.source:10}  {r.symbol:8}  {r.reason}\n{'':>38}{r.raw[:160]}")
        return 0
    finally:
        ctx.close()
