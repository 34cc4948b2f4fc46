"""Error classes. Every error tickdeck raises on purpose derives from ``TickdeckError``.

Leaves also inherit the closest built-in so callers can catch either (``SymbolNotFound`` is a
``KeyError``, ``SchemaError`` a ``ValueError``). Messages say what was wrong, where, and how to
fix it when that is known.
"""

from __future__ import annotations


class TickdeckError(Exception):
    """Root of all tickdeck errors."""


class ConfigError(TickdeckError, ValueError):
    """A setting is invalid; the message names the environment variable."""

    def __init__(self, variable: str, reason: str):
        self.variable = variable
        self.reason = reason
        super().__init__(f"{variable}: {reason}")


class NotFound(TickdeckError, KeyError):
    """Something asked for does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else "not found"


class SymbolNotFound(NotFound):
    """No data stored for a symbol."""

    def __init__(self, symbol: str, where: str = "ticks"):
        self.symbol = symbol
        super().__init__(f"symbol {symbol!r} has no data in {where}")


class DayNotFound(NotFound):
    """No data stored for a symbol on a day."""

    def __init__(self, symbol: str, day, where: str = "ticks"):
        self.symbol = symbol
        self.day = day
        super().__init__(f"no {where} stored for {symbol} on {day}")


class SchemaError(TickdeckError, ValueError):
    """A frame does not match the tick schema; names the column, the row and the reason."""

    def __init__(self, column: str | None, reason: str, row: int | None = None):
        self.column = column
        self.reason = reason
        self.row = row
        where = f"column {column!r}" if column else "frame"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {reason}")


class InvalidSymbol(TickdeckError, ValueError):
    """A ticker or a storage name cannot be used."""


class InvalidDateRange(TickdeckError, ValueError):
    """A date range whose end is before its start."""


class InvalidBarSpec(TickdeckError, ValueError):
    """A bar spec string or its parameter is invalid."""


class StorageError(TickdeckError):
    """The time-series store failed; wraps the backend error with context."""

    def __init__(self, symbol: str, operation: str, detail: str = ""):
        self.symbol = symbol
        self.operation = operation
        super().__init__(f"{operation} of {symbol} failed" + (f": {detail}" if detail else ""))


class CatalogError(TickdeckError):
    """The SQL catalog failed or holds inconsistent rows."""


class FeedError(TickdeckError):
    """The market-data feed answered with an error or could not be reached."""


class ImportFormatError(TickdeckError, ValueError):
    """A file to import has a missing column or unparseable values."""


class JobError(TickdeckError):
    """A job could not be queued, run, cancelled or retried."""


class PermissionDenied(TickdeckError, PermissionError):
    """The user's role does not allow the action."""


class VersionNotFound(NotFound):
    """A version of a stored day that is not (or no longer) kept."""


class ReplaceRefused(TickdeckError, ValueError):
    """A write would replace a stored day from another source, or shrink it sharply; nothing was
    written. The message says what is stored and how to replace it anyway (``--replace``)."""

    def __init__(self, symbol: str, day, message: str):
        self.symbol = symbol
        self.day = day
        super().__init__(message)
