"""``tickdeck health``: feed, ArcticDB, SQL, Redis, disk, memory and CPU at a glance."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("health", help="check every part of the deployment")
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 unless healthy")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.health import check_health

    ctx = open_context()
    rep = check_health(ctx)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2, default=str))
    else:
        print(f"overall: {rep.status}")
        for c in rep.checks:
            print(f"  {c.name:<9} {c.status:<9} {c.detail}  ({c.elapsed_ms:.0f} ms)")
        for lib, size in sorted(rep.library_bytes.items()):
            print(f"  library {lib:<22} {size:>14,} bytes")
    return 1 if args.strict and rep.status != "healthy" else 0
