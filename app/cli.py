"""The ``tickdeck`` command line. Each verb lives in ``app/commands/<verb>.py``.

A command module defines ``register(subparsers)`` which adds its parser and sets
``func=run``; modules are discovered, so a new verb is a new file. Errors derived from
``TickdeckError`` print one line (``tickdeck: error: …``) and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from core.errors import TickdeckError


def build_parser() -> argparse.ArgumentParser:
    import app.commands as commands

    parser = argparse.ArgumentParser(prog="tickdeck", description="tickdeck — trading-data platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug information")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"app.commands.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        rc = args.func(args)
    except TickdeckError as e:
        print(f"tickdeck: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tickdeck: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
