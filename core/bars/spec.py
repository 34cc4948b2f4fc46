"""Bar specs: the 13 family names and the ``family:param[:option…]`` grammar.

A :class:`BarSpec` is the value; its ``str`` is the canonical spec string and
``parse_spec(str(s)) == s`` holds for every valid spec (tested). :attr:`BarSpec.storage_name`
is the spec part of the ArcticDB symbol ``<SYMBOL>/<YYYY-MM-DD>/<storage_name>`` in library
``bars_<family>`` (built by :func:`core.naming.bar_symbol`).

Grammar (whitespace is ignored, the family name is case-insensitive)::

    SPEC     := FAMILY ":" PARAM (":" OPTION)*
    time, heikin_ashi           PARAM := <int><unit>, unit s|m|h|d, 1s … 1d   (time:60s, time:5m)
    tick                        PARAM := <int> trades                          (tick:500)
    volume, dollar              PARAM := <number> quantity / currency         (volume:10000)
    range, renko                PARAM := <number> price units                  (renko:0.25)
    *_imbalance, *_runs         PARAM := ewma<int> EWMA span in bars           (tick_imbalance:ewma20)
    OPTION := cross          bars may span pre/regular/after sessions (every family)
            | split          carry the excess of the closing trade into the next bar (volume, dollar)
            | t<int>         initial expected ticks per bar T0 (imbalance/runs; default 1000)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tickdeck.core.errors import InvalidBarSpec

FAMILIES: tuple[str, ...] = (
    "time", "tick", "volume", "dollar", "range", "renko", "heikin_ashi",
    "tick_imbalance", "volume_imbalance", "dollar_imbalance",
    "tick_runs", "volume_runs", "dollar_runs",
)
TIME_FAMILIES = ("time", "heikin_ashi")
INFO_FAMILIES = FAMILIES[7:]  # imbalance and runs: EWMA-driven (AFML ch. 2)

GRAMMAR = (
    "FAMILY:PARAM[:OPTION...]; time/heikin_ashi PARAM=<int><s|m|h|d> (time:60s); tick PARAM=<int>; "
    "volume/dollar PARAM=<number>; range/renko PARAM=<price> (renko:0.25); imbalance/runs "
    "PARAM=ewma<int> (tick_imbalance:ewma20); OPTIONS: cross (span sessions), split (volume/dollar), "
    "t<int> (imbalance/runs initial expected ticks)"
)

DEFAULT_T0 = 1000  # initial expected ticks per imbalance/runs bar when the spec has no t<N> option
MAX_INTERVAL_S = 86_400  # time bars longer than a day would always be cut by the session anyway
MAX_EWMA_SPAN = 10_000  # an EWMA over more bars than a day produces is meaningless

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_INTERVAL = re.compile(r"^([1-9][0-9]*)([smhd])$")
_EWMA = re.compile(r"^ewma([1-9][0-9]*)$")
_T0 = re.compile(r"^t([1-9][0-9]*)$")
_OPTION_ORDER = ("split", "cross", "t")


def _bad(text: str, reason: str) -> InvalidBarSpec:
    return InvalidBarSpec(f"invalid bar spec {text!r}: {reason}. Families: {', '.join(FAMILIES)}. Grammar: {GRAMMAR}")


def format_number(x: float) -> str:
    """Canonical text of a positive number: integers without a decimal point, else ``repr``."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


@dataclass(frozen=True)
class BarSpec:
    """One bar series definition: family, canonical parameter text and options.

    Build with :func:`parse_spec`; fields are canonical so equal specs compare equal.
    """

    family: str
    param: str
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        return ":".join((self.family, self.param, *self.options))

    @property
    def storage_name(self) -> str:
        """Spec part of the ArcticDB symbol: ``60s``, ``10000-split``, ``ewma20-t500``."""
        return "-".join((self.param, *self.options))

    @property
    def cross(self) -> bool:
        return "cross" in self.options

    @property
    def split(self) -> bool:
        return "split" in self.options

    @property
    def interval_s(self) -> int:
        """Seconds of a time/heikin_ashi spec."""
        m = _INTERVAL.match(self.param)
        if self.family not in TIME_FAMILIES or not m:
            raise InvalidBarSpec(f"{self} has no time interval")
        return int(m.group(1)) * _UNITS[m.group(2)]

    @property
    def value(self) -> float:
        """Numeric threshold: trades, shares, notional, price range or brick; EWMA span for info bars."""
        if self.family in TIME_FAMILIES:
            return float(self.interval_s)
        if self.family in INFO_FAMILIES:
            return float(_EWMA.match(self.param).group(1))
        return float(self.param)

    @property
    def t0(self) -> int:
        """Initial expected ticks per bar (imbalance/runs)."""
        for o in self.options:
            m = _T0.match(o)
            if m:
                return int(m.group(1))
        return DEFAULT_T0


def _parse_param(text: str, family: str, param: str) -> str:
    if family in TIME_FAMILIES:
        m = _INTERVAL.match(param.lower())
        if not m:
            raise _bad(text, f"{family} needs an interval like 60s, 5m, 1h")
        secs = int(m.group(1)) * _UNITS[m.group(2)]
        if secs > MAX_INTERVAL_S:
            raise _bad(text, f"interval {param} is longer than 1d")
        return f"{int(m.group(1))}{m.group(2)}"
    if family in INFO_FAMILIES:
        m = _EWMA.match(param.lower())
        if not m or int(m.group(1)) > MAX_EWMA_SPAN:
            raise _bad(text, f"{family} needs ewma<N> with 1 <= N <= {MAX_EWMA_SPAN} (EWMA span in bars)")
        return f"ewma{int(m.group(1))}"
    try:
        x = float(param)
    except ValueError:
        raise _bad(text, f"{family} needs a number, got {param!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise _bad(text, f"threshold must be a finite number > 0, got {param!r}")
    if family == "tick" and not x.is_integer():
        raise _bad(text, "tick needs a whole number of trades")
    return format_number(x)


def _parse_options(text: str, family: str, opts: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for raw in opts:
        o = raw.lower()
        if o == "cross":
            key = "cross"
        elif o == "split":
            if family not in ("volume", "dollar"):
                raise _bad(text, "option split applies to volume and dollar bars only")
            key = "split"
        elif _T0.match(o):
            if family not in INFO_FAMILIES:
                raise _bad(text, f"option {o} applies to imbalance/runs bars only")
            key, o = "t", f"t{int(o[1:])}"
        else:
            raise _bad(text, f"unknown option {raw!r}")
        if key in seen:
            raise _bad(text, f"option {key} given twice")
        seen[key] = o
    if seen.get("t") == f"t{DEFAULT_T0}":
        del seen["t"]  # the default is not spelled out, so equal specs print equal
    return tuple(seen[k] for k in _OPTION_ORDER if k in seen)


def parse_spec(text: str | BarSpec) -> BarSpec:
    """Parse ``family:param[:option…]`` into a canonical :class:`BarSpec`.

    Raises
    ------
    InvalidBarSpec
        Unknown family, malformed or non-positive parameter, or an option the family does not
        take; the message lists the valid families and the grammar.
    """
    if isinstance(text, BarSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), "empty spec")
    parts = [p.strip() for p in text.strip().split(":")]
    family = parts[0].lower()
    if family not in FAMILIES:
        raise _bad(text, f"unknown family {parts[0]!r}")
    if len(parts) < 2 or not parts[1]:
        raise _bad(text, "missing parameter")
    return BarSpec(family, _parse_param(text, family, parts[1]), _parse_options(text, family, parts[2:]))


__all__ = ["BarSpec", "FAMILIES", "GRAMMAR", "parse_spec", "format_number", "DEFAULT_T0"]
