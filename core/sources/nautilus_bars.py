"""NautilusTrader catalog bars → tickdeck imported bar series (:mod:`tickdeck.core.bars.imported`).

:func:`plan_bars` reads every bar type of one instrument (:func:`core.sources.nautilus.read_nautilus_bars`),
maps it to a tickdeck spec, checks it and cuts it into session days, before anything is written;
:func:`store_bars` writes the plan. A bar type that cannot be imported — an aggregation or price
type tickdeck has no bars for, two bar types mapping to the same spec (both), a bar breaking
OHLC integrity, a bar outside every session of the calendar — is refused whole, with the reason,
in :attr:`BarsPlan.refused` (the import reports it and exits non-zero); nothing of it is stored.

Each day's series keeps the bar type string, ``ts_init`` and the catalog's price and size
precision, so :func:`core.nautilus_export.export_catalog` writes the same bars back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tickdeck.core.bars import imported
from tickdeck.core.bars.spec import parse_spec
from tickdeck.core.calendar import MarketCalendar, get_calendar
from tickdeck.core.errors import ImportFormatError
from tickdeck.core.instruments import fewest_decimals, resolve_terms
from tickdeck.core.sources.files import (DEFAULT_ASSET, SIZE_DECIMALS, ImportReport, assign_session_days,
                                         guess_market)
from tickdeck.core.sources.nautilus import (BAR_FIELDS, NautilusBars, _catalog_kinds, _names, bar_instrument,
                                            instrument_is, instrument_terms, market_of_venue,
                                            read_nautilus_bars)

SOURCE = "nautilus"
MAX_DECIMALS = 16  # Nautilus high-precision FIXED_PRECISION


@dataclass(frozen=True)
class BarsImported:
    """One bar type imported: its spec, how many session days and bars."""

    bar_type: str
    spec: str
    days: int
    bars: int


@dataclass(frozen=True)
class BarsPlan:
    """What :func:`store_bars` will write, and the bar types refused with why."""

    items: tuple[imported.ImportedSeries, ...]
    imported: tuple[BarsImported, ...]
    refused: tuple[tuple[str, str], ...]
    instrument_id: str


def has_bars(path: Path, symbol: str) -> bool:
    """Whether the catalog directory at ``path`` holds a bar type of ``symbol``'s instrument."""
    base = next((path / s for s in ("data/bar", "bar") if (path / s).is_dir()), None) if path.is_dir() else None
    if base is None:
        return False
    return any(d.is_dir() and instrument_is(bar_instrument(d.name), symbol) for d in base.iterdir())


def has_ticks(path: Path, symbol: str) -> bool:
    """Whether ``path`` (a file, or a catalog) holds trade or quote ticks of ``symbol``."""
    if path.is_file():
        return True
    kinds = _catalog_kinds(path)
    return any(_names(path, k, symbol) for k in kinds) or any(p.name in ("trade_tick", "quote_tick")
                                                               for p in (path, path.parent))


def _decimals(values: np.ndarray) -> int:
    return fewest_decimals(values, MAX_DECIMALS)


def _check(nb: NautilusBars) -> str:
    """Why the bars of ``nb`` cannot be stored, or ``""``."""
    f = nb.frame
    o, h, lo, c, v = (f[k].to_numpy() for k in BAR_FIELDS)
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
    ok = finite & (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c)) & (v >= 0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        return (f"bar {i + 1} (ts_event {int(f.index.asi8[i])}) breaks OHLC integrity: open={o[i]} high={h[i]} "
                f"low={lo[i]} close={c[i]} volume={v[i]}")
    ends = f.index.asi8
    if ends.size > 1 and np.any(np.diff(ends) == 0):
        i = int(np.flatnonzero(np.diff(ends) == 0)[0])
        return f"two bars end at the same ts_event {int(ends[i])} (overlapping files?)"
    return ""


def plan_bars(path: Path, symbol: str, cal: MarketCalendar) -> BarsPlan:
    """Read, map, check and cut into days every bar type of ``symbol`` in the catalog at ``path``.

    Raises
    ------
    ImportFormatError
        No bars of ``symbol``, an unreadable file, a missing column or an unknown encoding.
    """
    found = read_nautilus_bars(path, symbol=symbol)
    items, done, refused = [], [], []
    same: dict[str, list[str]] = {}
    for nb in found:
        if nb.spec is not None:
            same.setdefault(nb.spec, []).append(nb.bar_type)
    for nb in found:
        why = nb.reason if nb.spec is None else ""
        if not why and len(same[nb.spec]) > 1:  # which one to keep would be a guess: neither is
            others = ", ".join(b for b in same[nb.spec] if b != nb.bar_type)
            why = (f"maps to {nb.spec}, as {others} does; tickdeck keeps one imported series per spec "
                   "(import from a catalog holding one of them)")
        why = why or _check(nb)
        if not why:
            ends = nb.frame.index.asi8
            days, outside = assign_session_days(ends - 1, cal)  # a bar ending at a session's end is of that session
            if outside.any():
                i = int(np.flatnonzero(outside)[0])
                why = (f"{int(outside.sum())} bar(s) end outside every {cal.name} session, the first at "
                       f"{pd.Timestamp(int(ends[i]), tz='UTC')}; import with the right --calendar")
        if why:
            refused.append((nb.bar_type, why))
            continue
        spec = parse_spec(nb.spec)
        f = nb.frame
        pp = nb.price_precision if nb.price_precision is not None else _decimals(
            np.concatenate([f[k].to_numpy() for k in ("open", "high", "low", "close")]))
        sp = nb.size_precision if nb.size_precision is not None else _decimals(f["volume"].to_numpy())
        meta = {"source": SOURCE, "bar_type": nb.bar_type, "instrument_id": nb.instrument_id,
                "price_precision": int(pp), "size_precision": int(sp)}
        uniq, start = np.unique(days, return_index=True)
        bounds = list(start) + [days.size]
        for k, day64 in enumerate(uniq):
            sl = slice(bounds[k], bounds[k + 1])
            day: dt.date = day64.astype(object)
            cols = {c: f[c].to_numpy()[sl] for c in BAR_FIELDS}
            frame = imported.build_frame(f.index.asi8[sl], f["ts_init"].to_numpy()[sl], cols, spec, cal, day)
            items.append(imported.ImportedSeries(symbol, day, spec, frame, meta))
        done.append(BarsImported(nb.bar_type, str(spec), int(uniq.size), len(f)))
    iid = found[0].instrument_id if found else ""
    return BarsPlan(tuple(items), tuple(done), tuple(refused), iid)


def store_bars(ctx, plan: BarsPlan) -> int:
    """Write a plan's series (replacing those of the same symbol, day and spec); returns the series written."""
    return len(imported.store(ctx, list(plan.items)))


def first_instrument(path: Path, symbol: str) -> str:
    """The instrument id of ``symbol``'s first bar type in the catalog at ``path`` (``""`` if none)."""
    base = next((path / s for s in ("data/bar", "bar") if (path / s).is_dir()), None)
    names = sorted(d.name for d in base.iterdir() if d.is_dir()) if base is not None else []
    return next((bar_instrument(n) for n in names if instrument_is(bar_instrument(n), symbol)), "")


def record_refused(ctx, source: str, symbol: str, plan: BarsPlan) -> None:
    """Refused bar types as dead letters (text: the bar type, reason: why), besides the report."""
    if plan.refused:
        ctx.catalog.add_dead_letters((source, symbol, bt, f"bar type not imported: {why}", None)
                                     for bt, why in plan.refused)


def import_bars_only(ctx, path: Path, symbol: str, *, source: str | None, calendar: str | None) -> ImportReport:
    """Import a catalog holding bars but no ticks of ``symbol``: the dataset row (from the catalog's
    instrument, its venue's calendar) and the bars.

    Raises
    ------
    ImportFormatError
        No bar type of ``symbol`` can be imported (the message lists each one and why); nothing is stored.
    """
    iid = first_instrument(path, symbol)
    venue = iid.rsplit(".", 1)[-1] if "." in iid else ""
    cal_v, asset_v = market_of_venue(venue)
    kind_asset, terms = instrument_terms(path, iid)
    existing = ctx.catalog.dataset(symbol)
    guess_cal, guess_asset = guess_market(symbol)
    cal = get_calendar(calendar or cal_v or (existing.calendar if existing is not None else None) or guess_cal)
    asset = asset_v or kind_asset or (existing.asset_class if existing is not None else None) or (
        guess_asset if guess_cal == cal.name else DEFAULT_ASSET[cal.name])
    plan = plan_bars(path, symbol, cal)
    src = f"import:{source or SOURCE}:bars"
    if not plan.items:
        raise ImportFormatError(f"{path}: no bars of {symbol} can be imported; nothing was stored: "
                                + "; ".join(f"{bt}: {why}" for bt, why in plan.refused))
    if existing is None:
        fractional = any(it.meta["size_precision"] > 0 for it in plan.items)
        t = resolve_terms(symbol, asset, size_decimals=SIZE_DECIMALS if fractional else 0, file_terms=terms)
        ctx.catalog.upsert_dataset(symbol, source=src, venue=venue[:32], calendar=cal.name,
                                   description=f"NautilusTrader bars {iid} ({path.name})", **t.dataset_values())
    store_bars(ctx, plan)
    record_refused(ctx, src, symbol, plan)
    return ImportReport(path=str(path), symbol=symbol, source=src, fmt=SOURCE, calendar=cal.name,
                        asset_class=asset if existing is None else existing.asset_class,
                        rows_read=sum(b.bars for b in plan.imported), ticks=0, rejected=len(plan.refused),
                        size_unit=1.0, quote_only=False, bars=plan.imported, bars_refused=plan.refused)
