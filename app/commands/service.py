"""``tickdeck service``: start, stop and inspect the long-running services (live collection).

``start``/``stop`` record the desired state in SQL; the service supervisor — in ``tickdeck serve``
(embedded) or ``tickdeck worker --scheduler`` — acts on it within about a second, so this
command returns at once (``--wait`` follows the status until the service has started or
stopped). ``status`` prints each service's state, restarts, last error and since when.
``tickdeck collect --live`` still runs live collection in the foreground of the terminal instead.
"""

from __future__ import annotations

import json

WAIT_POLL_S = 0.5


def register(sub) -> None:
    p = sub.add_parser("service", help="start, stop and inspect long-running services (live collection)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    st = verbs.add_parser("start", help="ask the supervisor to run a service: tickdeck service start live")
    st.add_argument("name", help="the service (live, indicators)")
    st.add_argument("--symbols", default="", help="comma-separated tickers (live; default: the watchlist)")
    st.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="wait up to SECONDS for it to be running (exit 1 if it is not)")
    sp = verbs.add_parser("stop", help="ask the supervisor to stop a service (bounded final flush)")
    sp.add_argument("name")
    sp.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="wait up to SECONDS for it to be stopped (exit 1 if it is not)")
    ss = verbs.add_parser("status", help="every service's state, restarts, last error and since when")
    ss.add_argument("name", nargs="?")
    ss.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.services import ServiceControl

    ctx = open_context(pipeline=False)
    try:
        control = ServiceControl(ctx)
        if args.verb == "status":
            statuses = [control.status(args.name)] if args.name else control.statuses()
            if args.json:
                print(json.dumps([s.to_dict() | {"text": s.describe()} for s in statuses], indent=2))
                return 0
            for s in statuses:
                _print(s)
            _supervisor_note(control)
            return 0
        if args.verb == "start":
            params = {}
            if args.symbols:
                from tickdeck.core.naming import normalize_ticker

                params["symbols"] = [normalize_ticker(x) for x in args.symbols.replace(",", " ").split()]
            control.start(args.name, by="cli", params=params)
            print(f"service {args.name}: start requested")
            want = ("running",)
        else:
            control.stop(args.name, by="cli")
            print(f"service {args.name}: stop requested")
            want = ("stopped",)
        if args.wait > 0:
            return _wait(control, args.name, want, args.wait)
        _supervisor_note(control)
        return 0
    finally:
        ctx.close()


def _print(s) -> None:
    print(f"{s.name}: {s.describe()}")
    print(f"  desired {s.desired}" + (f" (by {s.requested_by})" if s.requested_by else "")
          + f"; restarts {s.restarts}" + (f"; supervisor {s.host}" if s.host else ""))
    if s.detail:
        print(f"  {s.detail}")
    if s.last_error:
        print(f"  last error: {s.last_error}")


def _supervisor_note(control) -> None:
    if not control.supervisor_alive():
        print("note: no service supervisor is running; start `tickdeck serve` or `tickdeck worker --scheduler`")


def _wait(control, name: str, want: tuple[str, ...], seconds: float) -> int:
    import time

    deadline = time.monotonic() + seconds
    while True:
        s = control.status(name)
        if s.state in want:
            print(f"service {name}: {s.describe()}")
            return 0
        if s.state == "failed" or time.monotonic() >= deadline:
            print(f"service {name}: {s.describe()}" + (f" — {s.last_error}" if s.last_error else ""))
            return 1
        time.sleep(WAIT_POLL_S)
