"""``tickdeck iqfeed-sim``: run the IQFeed emulator (history + Level 1 ports) in the foreground."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("iqfeed-sim", help="run the IQFeed protocol emulator backed by the synthetic market")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-history", type=int, default=9100)
    p.add_argument("--port-l1", type=int, default=5009)
    p.add_argument("--symbols", default="", help="comma-separated universe (default: any ticker)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=float, default=1.0, help="emulated-clock speed multiplier for Level 1")
    p.add_argument("--now", default=None, help='emulated start time "YYYY-MM-DD HH:MM:SS" ET (default: real time)')
    p.add_argument("--ticks", type=int, default=None, help="regular-session trades per day (default: per symbol)")
    p.add_argument("--drop-every", type=float, default=0.0, help="abort each connection after N seconds")
    p.add_argument("--drop-after-lines", type=int, default=0, help="abort a history reply after N lines (once)")
    p.add_argument("--stall-after-lines", type=int, default=0, help="stall a history reply after N lines (once)")
    p.add_argument("--stall-seconds", type=float, default=3600.0)
    p.add_argument("--malformed-every", default="0", metavar="N[:KIND]",
                   help="corrupt every Nth tick line; KIND is one of "
                        "price (default), nonutf8, int64-overflow, zero-price, bad-time, bad-date")
    p.add_argument("--duplicate-every", type=int, default=0, help="send every Nth tick line twice")
    p.add_argument("--out-of-order-every", type=int, default=0, help="swap every Nth tick line with the next")
    p.set_defaults(func=run)


def parse_malformed(text: str) -> tuple[int, str]:
    """``N`` or ``N:KIND`` of ``--malformed-every`` as (N, kind).

    Raises
    ------
    TickdeckError
        N is not a whole number ≥ 0 or KIND is unknown.
    """
    from tickdeck.core.errors import TickdeckError
    from tickdeck.core.sources.iqfeed_emulator import MALFORMED_KINDS

    n, _, kind = str(text).partition(":")
    kind = kind or "price"
    if not n.strip().isdigit():
        raise TickdeckError(f"--malformed-every: expected N or N:KIND, got {text!r}")
    if kind not in MALFORMED_KINDS:
        raise TickdeckError(f"--malformed-every: unknown kind {kind!r}; choose one of {', '.join(MALFORMED_KINDS)}")
    return int(n), kind


def run(args) -> int:
    import asyncio

    from tickdeck.core.errors import TickdeckError
    from tickdeck.core.sources.iqfeed_emulator import EmulatorFaults, IQFeedEmulator

    if args.speed <= 0:
        raise TickdeckError(f"--speed must be > 0, got {args.speed}")
    every, kind = parse_malformed(args.malformed_every)
    faults = EmulatorFaults(drop_every=args.drop_every, drop_after_lines=args.drop_after_lines,
                            stall_after_lines=args.stall_after_lines, stall_seconds=args.stall_seconds,
                            malformed_every=every, malformed_kind=kind, duplicate_every=args.duplicate_every,
                            out_of_order_every=args.out_of_order_every)
    symbols = [s for s in args.symbols.split(",") if s.strip()] or None
    emu = IQFeedEmulator(symbols=symbols, seed=args.seed, speed=args.speed, now=args.now, host=args.host,
                         port_history=args.port_history, port_l1=args.port_l1, faults=faults, ticks=args.ticks)

    async def main() -> None:
        try:
            await emu.start()
        except OSError as e:
            raise TickdeckError(f"cannot listen on {args.host}:{args.port_history}/{args.port_l1}: {e}") from None
        print(f"iqfeed-sim listening: history {args.host}:{emu.port_history}, level1 {args.host}:{emu.port_l1}, "
              f"emulated now {emu.sim_now():%Y-%m-%d %H:%M:%S} ET", flush=True)
        await emu.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0
