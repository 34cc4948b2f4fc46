"""``tickdeck serve``: the Panel web app and the HTTP API (``/api/v1``, ``/ws/…``, ``/healthz``,
``/readyz``, docs at ``/api/docs``) on one port."""

from __future__ import annotations

import os

ORIGINS_ENV = "TICKDECK_ALLOW_WEBSOCKET_ORIGIN"  # the container's setting (the Dockerfile allows no '*')


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the web app and the HTTP API on one port")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--prefix", default="", help="URL prefix when served behind a proxy, e.g. /tickdeck")
    p.add_argument("--num-procs", type=int, default=1, help="worker processes (0 = one per core)")
    p.add_argument("--allow-websocket-origin", action="append", default=None, metavar="HOST[:PORT]",
                   help="a host whose pages may open the websockets (repeat for several; default: "
                        f"{ORIGINS_ENV}, comma-separated, else this server's own address)")
    p.add_argument("--no-worker", action="store_true",
                   help="do not run the embedded job worker and scheduler (use `tickdeck worker` processes)")
    p.add_argument("--no-warm-up", action="store_true",
                   help="skip warming up page and chart code at start (the first page view pays for it instead); "
                        "for API-only processes")
    p.set_defaults(func=run)


def run(args) -> int:
    from tickdeck.app.wiring import load_settings
    from tickdeck.core.metrics_setup import enable_multiprocess

    settings = load_settings()
    enable_multiprocess(settings.data_dir)  # before anything imports prometheus_client (docs/operations.md "Metrics")
    from tickdeck.app.server import serve
    from tickdeck.core.context import Context

    # Fail fast on bad settings (one line naming the variable) before the server starts.
    Context.open(settings).close()
    base = f"http://{args.address}:{args.port}{args.prefix or ''}"
    print(f"tickdeck serving on {base}/ (API: {base}/api/v1, docs: {base}/api/docs)", flush=True)
    origins = args.allow_websocket_origin or \
        [o.strip() for o in os.environ.get(ORIGINS_ENV, "").split(",") if o.strip()] or None
    serve(settings, port=args.port, address=args.address, prefix=args.prefix, num_procs=args.num_procs,
          allow_websocket_origin=origins, worker=not args.no_worker,
          warm_up=not args.no_warm_up)
    return 0
