"""What the home cards and the catalog say about a dataset beyond its catalog row.

All of it comes from tier-1 catalog rows (one bounded query per dataset, no frame read):

* :func:`card_facts` — all of the below for one dataset, from two bounded catalog queries;
  :func:`cards_facts` — the same for many datasets (a page of home cards) in two queries in all.
* :func:`price_summary` — the last stored price (the close of the last stored day, i.e. its last
  trade), the change against the previous stored day's close, and the daily closes and tick
  counts of the last :data:`SPARK_DAYS` stored days for a sparkline.
* :func:`coverage_strip` — the last :data:`STRIP_DAYS` trading days up to the last stored day,
  each ``present`` / ``failing`` / ``missing``.
* :func:`update_frequency` — ``daily`` only for a dataset whose recent days were written day
  after day (each on its own date, on or after the day itself); a dataset generated or
  imported in one go is ``one-off``.
* :func:`exchange_of` / :func:`source_of` — the exchange an instrument trades on (MIC such as
  ``XNYS``, ``XNAS``, or ``CME``) and the vendor the data came from, which the catalog row keeps
  in one ``venue`` field for some sources (``IQFEED``, ``SIM``, a Databento dataset).
* :func:`group_specs` — bar specs of one family in a stable order (numbers numerically).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tickdeck.core.calendar import MarketCalendar
from tickdeck.core.catalog import Catalog, DatasetSummary

SPARK_DAYS = 30  # stored days drawn in a card's sparkline: a month of closes reads at a glance
STRIP_DAYS = 20  # trading days in a card's coverage strip: the last four weeks
LOOKBACK_CALENDAR_DAYS = 62  # catalog rows read per card: enough calendar days for SPARK_DAYS trading days
DAILY_MIN_DAYS = 3  # fewer recent days than this cannot show a daily rhythm
DAILY_RECENT_DAYS = 5  # the last N stored days must each have been written on their own date
VENDOR_VENUES = {"IQFEED": "IQFeed", "SIM": "synthetic", "": ""}  # venue values that name a vendor
CME_CODES = {"GLBX", "CME", "CMES", "CBOT", "NYMEX", "COMEX", "XCME", "XCBT", "XNYM", "XCEC"}
MIC_OF_LISTING = {"NYSE": "XNYS", "NASDAQ": "XNAS"}
_MIC = re.compile(r"^X[A-Z]{3}$")


@dataclass(frozen=True)
class PriceSummary:
    """Last price and recent history of one dataset (from tier-1 rows)."""

    last: float | None  # close (last trade) of the last stored day
    last_day: dt.date | None
    previous: float | None  # close of the stored day before it
    previous_day: dt.date | None
    days: tuple[dt.date, ...]  # the last SPARK_DAYS stored days, oldest first
    closes: tuple[float | None, ...]  # their closes
    ticks: tuple[int, ...]  # their tick counts

    @property
    def change(self) -> float | None:
        if self.last is None or self.previous is None:
            return None
        return self.last - self.previous

    @property
    def change_pct(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return 100.0 * self.change / self.previous


def price_summary(rows) -> PriceSummary:
    """Last price, day change and sparkline series from a dataset's tier-1 rows (ordered by day)."""
    rows = list(rows)[-SPARK_DAYS:]
    if not rows:
        return PriceSummary(None, None, None, None, (), (), ())
    last, prev = rows[-1], rows[-2] if len(rows) > 1 else None
    return PriceSummary(last.close, last.day, prev.close if prev else None, prev.day if prev else None,
                        tuple(r.day for r in rows), tuple(r.close for r in rows), tuple(int(r.ticks) for r in rows))


def coverage_strip(stored: set[dt.date], failing: set[dt.date], cal: MarketCalendar, end: dt.date | None,
                   n: int = STRIP_DAYS) -> list[tuple[dt.date, str]]:
    """The last ``n`` trading days up to ``end`` (oldest first) with ``present``/``failing``/``missing``."""
    if end is None:
        return []
    days = list(cal.previous_trading_days(end, n))
    if end in stored and end not in days:  # a stored non-trading day (an odd import) still shows
        days = [*days[1:], end]
    return [(x, "failing" if x in failing and x in stored else "present" if x in stored else "missing")
            for x in days]


def update_frequency(d: DatasetSummary, rows) -> str:
    """``live (streaming)``, ``daily``, ``occasional`` or ``one-off`` — from when days were written.

    ``rows`` are the dataset's recent tier-1 rows (ordered by day). ``daily`` needs the last
    :data:`DAILY_RECENT_DAYS` stored days (at least :data:`DAILY_MIN_DAYS`) to have been written
    each on a different date, each on or after the day itself: what a scheduled daily collection
    leaves behind. Data written in one go (a generated or imported range) is ``one-off``;
    several writes without that rhythm are ``occasional``.
    """
    if "live" in (d.source or "").lower():
        return "live (streaming)"
    rows = list(rows)
    recent = rows[-DAILY_RECENT_DAYS:]
    written = [r.updated_at.date() for r in recent]
    if len(recent) >= DAILY_MIN_DAYS and len(set(written)) == len(recent) \
            and all(w >= r.day for w, r in zip(written, recent)):
        return "daily"
    return "occasional" if len({r.updated_at.date() for r in rows}) > 1 else "one-off"


@dataclass(frozen=True)
class CardFacts:
    """Everything a home card shows beyond the catalog summary."""

    price: PriceSummary
    frequency: str
    strip: tuple  # ((day, state), ...) oldest first
    exchange: str
    source: str


def card_facts(catalog: Catalog, cal: MarketCalendar, d: DatasetSummary) -> CardFacts:
    """Facts of one card: two catalog queries bounded to the last :data:`LOOKBACK_CALENDAR_DAYS` days."""
    rows = []
    failing: set[dt.date] = set()
    if d.last_day is not None:
        start = d.last_day - dt.timedelta(days=LOOKBACK_CALENDAR_DAYS)
        rows = catalog.tick_days(d.symbol, start=start)
        failing = catalog.failing_days(d.symbol, start=start)
    return _facts(d, rows, failing, cal)


@dataclass(frozen=True)
class _Row:  # the tier-1 columns a card reads
    day: dt.date
    close: float | None
    ticks: int
    updated_at: dt.datetime


def cards_facts(catalog: Catalog, calendar_of, datasets) -> dict[str, CardFacts]:
    """:func:`card_facts` of many datasets (the home page's shown cards) in two queries for all of them.

    ``calendar_of(dataset)`` returns the dataset's :class:`MarketCalendar`.
    """
    from sqlalchemy import func, select

    from tickdeck.core import db
    from tickdeck.core.catalog import FAILING_STATUSES, _date

    items = list(datasets)
    stored = [d for d in items if d.last_day is not None]
    rows: dict[str, list[_Row]] = {d.symbol: [] for d in items}
    failing: dict[str, set[dt.date]] = {d.symbol: set() for d in items}
    if stored:
        syms = sorted({d.symbol for d in stored})
        start = min(d.last_day for d in stored) - dt.timedelta(days=LOOKBACK_CALENDAR_DAYS)
        t, v = db.TickDay, db.ValidationResult
        q_rows = (select(t.symbol, t.day, t.close, t.ticks, t.updated_at)
                  .where(t.symbol.in_(syms), t.day >= start).order_by(t.symbol, t.day))
        latest = (select(func.max(v.id)).where(v.symbol.in_(syms), v.day >= start)
                  .group_by(v.symbol, v.day, v.validator).scalar_subquery())
        q_fail = select(v.symbol, v.day).where(v.id.in_(latest), func.upper(v.status).in_(FAILING_STATUSES)).distinct()
        utc = dt.timezone.utc
        with catalog.engine.connect() as c:
            for sym, day, close, ticks, upd in c.execute(q_rows):
                if isinstance(upd, dt.datetime) and upd.tzinfo is None:
                    upd = upd.replace(tzinfo=utc)
                rows[sym].append(_Row(_date(day), close, int(ticks or 0), upd))
            for sym, day in c.execute(q_fail):
                failing[sym].add(_date(day))
    out = {}
    for d in items:
        mine = rows[d.symbol]
        if d.last_day is not None:
            lo = d.last_day - dt.timedelta(days=LOOKBACK_CALENDAR_DAYS)
            mine = [r for r in mine if r.day >= lo]
        out[d.symbol] = _facts(d, mine, failing[d.symbol], calendar_of(d))
    return out


def _facts(d: DatasetSummary, rows, failing: set[dt.date], cal: MarketCalendar) -> CardFacts:
    strip = coverage_strip({r.day for r in rows}, failing, cal, d.last_day)
    if d.first_day is not None:
        strip = [(x, st) for x, st in strip if x >= d.first_day]  # before the first day is not a gap
    return CardFacts(price_summary(rows), update_frequency(d, rows), tuple(strip), exchange_of(d), source_of(d))


def exchange_of(d: DatasetSummary) -> str:
    """The exchange ``d`` trades on: a MIC (``XNYS``, ``XNAS``…) or ``CME`` for CME Group futures.

    The row's venue is used as it is unless it names a vendor (``IQFEED``, ``SIM``) or nothing:
    then an equity gets its listing exchange (:func:`tickdeck.core.indicators.catalog.listing_exchange`,
    the placement the emulator and the synthetic market use; a file import without a venue only
    when the symbol is a known listing), else the dataset's calendar.
    """
    from tickdeck.core.indicators.catalog import KNOWN_LISTINGS, listing_exchange

    venue = (d.venue or "").strip()
    code = venue.upper().split(".", 1)[0]  # a Databento dataset: XNAS.ITCH, GLBX.MDP3
    if code in CME_CODES or (d.calendar or "").upper() in CME_CODES or d.asset_class == "futures":
        return "CME"
    if _MIC.match(code):
        return code
    if code in MIC_OF_LISTING:
        return MIC_OF_LISTING[code]
    if code not in VENDOR_VENUES:
        return venue
    equity = not d.asset_class or d.asset_class in ("equity", "etf")
    if equity and (code or d.symbol.upper() in KNOWN_LISTINGS):
        return MIC_OF_LISTING[listing_exchange(d.symbol)]
    return d.calendar or "unknown"


def source_of(d: DatasetSummary) -> str:
    """The data vendor or origin of ``d`` (``IQFeed``, ``synthetic``, ``Databento XNAS.ITCH``, a file format)."""
    venue = (d.venue or "").upper()
    if venue in VENDOR_VENUES and VENDOR_VENUES[venue]:
        return VENDOR_VENUES[venue]
    src = d.source or ""
    if "." in venue and src.lower().startswith("dbn"):
        return f"Databento {d.venue}"
    return {"iqfeed": "IQFeed", "synthetic": "synthetic"}.get(src.lower(), src or "unknown source")


def spec_label(family: str, spec: str) -> str:
    """A stored spec without its family prefix (``dollar:1000000`` → ``1000000``)."""
    return spec[len(family) + 1:] if spec.startswith(family + ":") else spec


def full_spec(family: str, spec: str) -> str:
    """The explorer's bar spec (``family:parameter``) of a stored spec, prefixed or not."""
    return spec if spec.startswith(family + ":") else f"{family}:{spec}"


def _spec_key(spec: str):
    label = spec.split(":", 1)[1] if ":" in spec else spec
    m = re.match(r"^(?:ewma\d+:t)?(\d+(?:\.\d+)?)([a-z]*)", label)
    if not m:
        return (1, 0.0, label)
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(m.group(2), 1)
    return (0, float(m.group(1)) * unit, label)


def group_specs(specs) -> list:
    """``specs`` (strings, or objects with a ``spec`` attribute) in numeric order (``5``, ``20``, ``50``;
    ``1m``, ``5m``, ``15m``; ``ewma20:t10`` by its threshold) rather than as text."""
    return sorted(specs, key=lambda s: _spec_key(s if isinstance(s, str) else s.spec))
