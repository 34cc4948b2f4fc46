"""Plausibility bounds for prices and sizes: rows outside them are dead letters, not ticks.

A price of ``1e308`` or ``inf`` parses as a number and passes "finite and > 0" checks that
look only at the sign, then overflows the bar arithmetic (``price × size``) and the day ends
up with no bars. :class:`Bounds` states what a tick may hold; :meth:`Bounds.check` classifies
whole numpy arrays at once (no per-row Python), and :meth:`Bounds.reasons` words the failures
of the rows a source is about to dead-letter.

Any source can use it::

    bounds = Bounds.from_settings(ctx.settings)
    codes = bounds.check(price=price, size=size, bid=bid, ask=ask)
    bad = np.flatnonzero(codes)
    reasons = bounds.reasons(codes, bad, price=price, size=size, bid=bid, ask=ask)

The limits come from settings (``TICKDECK_PRICE_MIN``, ``TICKDECK_PRICE_MAX``,
``TICKDECK_SIZE_MAX``; see :mod:`core.config`). Rules, in the order they are reported:

1. price missing, not finite, or not above ``price_min`` (default 0: prices must be > 0);
2. price above ``price_max`` (default 1e9);
3. size missing, not finite, or negative;
4. size above ``size_max`` (default 1e12 units of the file's quantity);
5. bid or ask present (not NaN) but infinite, negative or above ``price_max``. A missing
   quote (NaN) is allowed: trade files often have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tickdeck.core.errors import ConfigError

DEFAULT_PRICE_MIN = 0.0  # exclusive: a price must be above it
DEFAULT_PRICE_MAX = 1e9  # a billion per unit: above any listed instrument, far below float overflow
DEFAULT_SIZE_MAX = 1e12  # a trillion units in one trade: above any real print, below int64 as shares

OK = 0
PRICE_LOW = 1
PRICE_HIGH = 2
SIZE_BAD = 3
SIZE_HIGH = 4
QUOTE_BAD = 5


@dataclass(frozen=True)
class Bounds:
    """Limits a tick's price, size and quote must respect (see the module docstring)."""

    price_min: float = DEFAULT_PRICE_MIN
    price_max: float = DEFAULT_PRICE_MAX
    size_max: float = DEFAULT_SIZE_MAX

    def __post_init__(self) -> None:
        if not (np.isfinite(self.price_min) and np.isfinite(self.price_max) and 0 <= self.price_min < self.price_max):
            raise ConfigError("TICKDECK_PRICE_MIN/TICKDECK_PRICE_MAX",
                              f"need 0 <= min < max, both finite; got {self.price_min!r} and {self.price_max!r}")
        if not (np.isfinite(self.size_max) and self.size_max > 0):
            raise ConfigError("TICKDECK_SIZE_MAX", f"need a finite number > 0, got {self.size_max!r}")

    @classmethod
    def from_settings(cls, settings) -> "Bounds":
        """Bounds from :class:`tickdeck.core.config.Settings` (defaults for fields it lacks)."""
        return cls(price_min=getattr(settings, "price_min", DEFAULT_PRICE_MIN),
                   price_max=getattr(settings, "price_max", DEFAULT_PRICE_MAX),
                   size_max=getattr(settings, "size_max", DEFAULT_SIZE_MAX))

    def check(self, *, price: np.ndarray, size: np.ndarray | None = None, bid: np.ndarray | None = None,
              ask: np.ndarray | None = None) -> np.ndarray:
        """One code per row: 0 when plausible, else the first rule it breaks (uint8).

        Parameters
        ----------
        price, size, bid, ask
            float arrays of one length; ``size``, ``bid`` and ``ask`` may be omitted.
        """
        price = np.asarray(price, dtype=np.float64)
        codes = np.zeros(price.shape[0], dtype=np.uint8)
        with np.errstate(invalid="ignore"):
            _mark(codes, ~(np.isfinite(price) & (price > self.price_min)), PRICE_LOW)
            _mark(codes, price > self.price_max, PRICE_HIGH)
            if size is not None:
                size = np.asarray(size, dtype=np.float64)
                _mark(codes, ~(np.isfinite(size) & (size >= 0)), SIZE_BAD)
                _mark(codes, size > self.size_max, SIZE_HIGH)
            for q in (bid, ask):
                if q is not None:
                    q = np.asarray(q, dtype=np.float64)
                    _mark(codes, ~np.isnan(q) & ~((q >= 0) & (q <= self.price_max)), QUOTE_BAD)
        return codes

    def reasons(self, codes: np.ndarray, idx: np.ndarray, *, price: np.ndarray, size: np.ndarray | None = None,
                bid: np.ndarray | None = None, ask: np.ndarray | None = None) -> list[str]:
        """Words for the rows ``idx`` (Python work only for those rows: pass at most a few thousand)."""
        out = []
        v = _value
        for i in np.asarray(idx, dtype=np.int64).tolist():
            c = int(codes[i])
            if c == PRICE_LOW:
                out.append(f"price {v(price, i)!r} is missing, not finite or not above {self.price_min:g} "
                           "(TICKDECK_PRICE_MIN)")
            elif c == PRICE_HIGH:
                out.append(f"price {v(price, i)!r} is above the plausible maximum {self.price_max:g} "
                           "(TICKDECK_PRICE_MAX)")
            elif c == SIZE_BAD:
                out.append(f"size {v(size, i)!r} is missing, not finite or negative")
            elif c == SIZE_HIGH:
                out.append(f"size {v(size, i)!r} is above the plausible maximum {self.size_max:g} (TICKDECK_SIZE_MAX)")
            elif c == QUOTE_BAD:
                out.append(f"bid {v(bid, i)!r} / ask {v(ask, i)!r}: "
                           f"a quote must be finite, not negative and at most {self.price_max:g} (TICKDECK_PRICE_MAX)")
            else:
                out.append("")
        return out


def _value(a: np.ndarray | None, i: int) -> float | None:
    return None if a is None else float(a[i])


def _mark(codes: np.ndarray, mask: np.ndarray, code: int) -> None:
    """Set ``code`` where ``mask`` holds and no earlier rule has fired."""
    codes[mask & (codes == OK)] = code
