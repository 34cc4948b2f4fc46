"""``tickdeck replay``: play stored days through the live path (:mod:`core.scenario`).

``tickdeck replay AAPL MSFT --date 2024-07-02 --speed 50`` plays in this process and publishes
on the configured bus (with Redis configured every server's pages and streams see it) until the
window's end or Ctrl-C. ``--server`` asks the supervised ``replay`` service of the server (or of
``tickdeck worker --scheduler``) to play it instead and returns; ``--pause``, ``--resume``,
``--seek TIME``, ``--set-speed N|max``, ``--stop`` and ``--status`` control that service's replay.
A replay writes nothing into the store.
"""

from __future__ import annotations

import json
import signal
import threading


def register(sub) -> None:
    p = sub.add_parser("replay", help="replay stored days through the live path (bus, live bars, pages, streams)")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL", help="tickers to replay together, merged by time")
    p.add_argument("--date", help="a stored day (YYYY-MM-DD); --start/--end may then be times of day")
    p.add_argument("--start", help="ET date or date and time (or a time of day with --date); default the day's start")
    p.add_argument("--end", help="ET date or date and time, exclusive (or a time of day with --date)")
    p.add_argument("--speed", default="10", help="1 to 100 times real time, or max (as fast as possible); default 10")
    p.add_argument("--server", action="store_true",
                   help="run it in the server's supervised replay service instead of this process")
    ctl = p.add_mutually_exclusive_group()
    ctl.add_argument("--pause", action="store_true", help="pause the server's replay")
    ctl.add_argument("--resume", action="store_true", help="resume the server's replay")
    ctl.add_argument("--seek", metavar="TIME", help="continue the server's replay from TIME (ET)")
    ctl.add_argument("--set-speed", metavar="N|max", help="change the server's replay speed")
    ctl.add_argument("--stop", action="store_true", help="stop the server's replay")
    ctl.add_argument("--status", action="store_true", help="print the server's replay state (JSON)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.scenario import ReplayRequest

    control_verb = args.pause or args.resume or args.seek or args.set_speed or args.stop or args.status
    if not control_verb:
        request = ReplayRequest.make(args.symbols, date=args.date, start=args.start, end=args.end, speed=args.speed)
    ctx = open_context(pipeline=False)
    try:
        if control_verb:
            return _control(ctx, args)
        if args.server:
            return _start_service(ctx, request)
        return _foreground(ctx, request)
    finally:
        ctx.close()


def _start_service(ctx, request) -> int:
    from tickdeck.core.replay_service import ReplayControl
    from tickdeck.core.services import ServiceControl

    control = ServiceControl(ctx)
    ReplayControl(control).start(request, by="cli")
    print(f"replay of {', '.join(request.symbols)} {request.start} – {request.end} requested from the server")
    if not control.supervisor_alive():
        print("note: no service supervisor is running; start `tickdeck serve` or `tickdeck worker --scheduler`")
    return 0


def _control(ctx, args) -> int:
    from tickdeck.core.replay_service import NoReplay, ReplayControl
    from tickdeck.core.services import ServiceControl

    replay = ReplayControl(ServiceControl(ctx))
    if args.status:
        st = replay.status()
        print(json.dumps({"service": st.to_dict() | {"text": st.describe()}, "replay": replay.state()}, indent=2))
        return 0
    if args.stop:
        replay.stop(by="cli")
        print("replay: stop requested")
        return 0
    try:
        if args.seek:
            change = replay.seek(args.seek, by="cli")
        elif args.set_speed:
            change = replay.set_speed(args.set_speed, by="cli")
        else:
            change = (replay.pause if args.pause else replay.resume)(by="cli")
    except NoReplay as e:
        print(e)
        return 1
    print(f"replay: {', '.join(f'{k} {v}' for k, v in change.items())} requested")
    return 0


def _foreground(ctx, request) -> int:
    from tickdeck.core.scenario import ScenarioPlayer

    stop = threading.Event()

    def report(st) -> None:
        print(f"{st.state}: {st.delivered:,}/{st.total:,} ticks, at {st.position_et[11:19] or '—'}", flush=True)
        if st.state == "finished":
            stop.set()

    player = ScenarioPlayer(ctx, request, on_state=report)
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        final = player.run(stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"replayed {final.delivered:,} ticks of {', '.join(request.symbols)} in {final.batches:,} batches")
    return 0
