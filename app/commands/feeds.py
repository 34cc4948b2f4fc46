"""``tickdeck feeds``: the live service's symbols and the feed's status.

* ``tickdeck feeds subscribe SYM [SYM …]`` — add symbols to the running live service without a
  restart: it watches them, fills their day in from history up to the moment they join, then
  stores their live ticks (:class:`core.live.LiveSymbols`). ``--wait SECONDS`` follows the
  service's status until it collects them (or the feed refused one: exit 1, with the reason).
* ``tickdeck feeds unsubscribe SYM [SYM …]`` — remove symbols: they stop being stored and their
  day is finalised (rewritten whole, validated) at once.
* ``tickdeck feeds status`` — each feed client's last status (the active endpoint's host and
  port), the configured primary and backup endpoints, and the last failover switch
  (:mod:`core.failover`). ``--json`` for scripts.

Like ``tickdeck service``, the changes are requests the service supervisor (``tickdeck serve``
or ``tickdeck worker --scheduler``) applies within about a second; the API's
``POST /feeds/subscribe`` and the monitor page's symbol box make the same requests.
"""

from __future__ import annotations

import json
import time

from tickdeck.core import feed_status
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.services import ServiceControl

WAIT_POLL_S = 0.5
LIVE = "live"


def register(sub) -> None:
    p = sub.add_parser("feeds", help="add or remove live symbols without a restart; the feed's status and failover")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for verb, text in (("subscribe", "add symbols to the running live service (their day is filled in first)"),
                       ("unsubscribe", "remove symbols from the running live service (their day is finalised)")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("symbols", nargs="+", help="tickers, space- or comma-separated")
        v.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                       help="wait up to SECONDS for the running service to apply the change (exit 1 if it does not)")
    st = verbs.add_parser("status", help="each feed client's last status, the endpoints and the last failover")
    st.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context

    ctx = open_context(pipeline=False)
    try:
        if args.verb == "status":
            return _status(ctx, args.json)
        symbols = list(dict.fromkeys(normalize_ticker(s) for part in args.symbols for s in part.split(",")
                                     if s.strip()))
        control = ServiceControl(ctx)
        add = args.verb == "subscribe"
        want = (control.subscribe if add else control.unsubscribe)(symbols, by="cli")
        print(f"live symbols requested: {', '.join(want.params['symbols'])}")
        if args.wait > 0:
            return _wait(control, symbols, add, args.wait)
        if not control.supervisor_alive():
            print("note: no service supervisor is running; start `tickdeck serve` or `tickdeck worker --scheduler`")
        return 0
    finally:
        ctx.close()


def _wait(control: ServiceControl, symbols: list[str], add: bool, seconds: float) -> int:
    """Follow the live service's status until it runs with (or without) ``symbols``."""
    deadline = time.monotonic() + seconds
    while True:
        st = control.status(LIVE)
        running = set(st.params.get("symbols") or [])
        refused = {s: why for s, why in (st.params.get("rejected") or {}).items() if s in symbols}
        if add and refused:
            for s, why in refused.items():
                print(f"{s}: refused by the feed: {why}")
            return 1
        if st.state == "running" and (set(symbols) <= running if add else not set(symbols) & running):
            print(f"live service: {st.describe()}")
            return 0
        if st.state == "failed" or time.monotonic() >= deadline:
            print(f"live service: {st.describe()}" + (f" — {st.last_error}" if st.last_error else ""))
            return 1
        time.sleep(WAIT_POLL_S)


def _status(ctx, as_json: bool) -> int:
    now = time.time()
    clients = feed_status.latest(ctx)
    switch = feed_status.last_switch(ctx)
    s = ctx.settings
    backup = s.backup_feed
    if as_json:
        print(json.dumps({"primary": str(s.primary_feed), "backup": str(backup) if backup else None,
                          "clients": {k: ev.to_dict() for k, ev in clients.items()},
                          "last_switch": switch.to_dict() if switch else None}, indent=2))
        return 0
    print(f"primary feed: {s.primary_feed}")
    print(f"backup feed:  {backup if backup else 'none (TICKDECK_FEED_BACKUP not set: no failover)'}")
    if not clients:
        print("no feed status yet (no collection has run)")
    for kind, ev in clients.items():
        err = f"; last error: {ev.last_error}" if ev.last_error else ""
        print(f"{kind}: {ev.state} at {ev.host}:{ev.port}, {ev.ticks:,} ticks, {ev.reconnects} reconnects, "
              f"{feed_status.age_s(ev, now):.0f} s ago{err}")
    if switch is not None:
        print(f"last switch: to the {switch.to_role} {switch.to_feed} ({switch.reason}: {switch.detail}), "
              f"{max(now - switch.wall, 0):.0f} s ago")
    return 0
