"""The ``tickdeck`` command line. Each verb lives in ``app/commands/<verb>.py``.

A command module defines ``register(subparsers)`` which adds its parser and sets
``func=run``; modules are discovered, so a new verb is a new file. Errors derived from
``TickdeckError`` print one line (``tickdeck: error: …``) and exit 1.

Only the module of the verb given is imported (``tickdeck catalog`` does not import what
``tickdeck import`` needs); ``tickdeck --help`` or an unknown verb registers them all. Output
piped into a reader that stops early (``| head``) ends quietly instead of with a BrokenPipeError.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from tickdeck.core.errors import TickdeckError
from tickdeck.core.logging_setup import configure as configure_logging


def _command_modules() -> list[str]:
    import tickdeck.app.commands as commands

    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__))


def _module_of(verb: str | None, modules: list[str]) -> str | None:
    """The command module registering ``verb`` (``restore-day`` → ``restore_day``,
    ``import`` → ``import_``), else ``None``."""
    if not verb:
        return None
    name = verb.replace("-", "_")
    for candidate in (name, f"{name}_"):
        if candidate in modules:
            return candidate
    return None


def _verb(argv: list[str]) -> str | None:
    """The first argument that is not an option: the verb (the only top-level option is ``-v``)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``verb``, only that verb's module is imported and registered."""
    parser = argparse.ArgumentParser(prog="tickdeck", description="tickdeck — trading-data platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug information")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = _command_modules()
    only = _module_of(verb, modules)
    for name in [only] if only else modules:
        importlib.import_module(f"tickdeck.app.commands.{name}").register(sub)
    return parser


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away: point stdout at /dev/null so the interpreter's final
    flush cannot raise again, and exit as a process killed by SIGPIPE would (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass
    return 141


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: list[str]) -> int:
    parser = build_parser(_verb(argv))
    args = parser.parse_args(argv)
    try:
        configure_logging(verbose=args.verbose)  # TICKDECK_LOG_FORMAT=json|text, TICKDECK_LOG_LEVEL
        rc = args.func(args)
    except TickdeckError as e:
        print(f"tickdeck: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tickdeck: interrupted", file=sys.stderr)
        return 130
    sys.stdout.flush()  # a closed pipe shows here, inside main, rather than at interpreter exit
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
