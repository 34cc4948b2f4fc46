"""Home: the dataset marketplace — one card per stored dataset, read from the catalog.

Each card shows the dataset's status badge (colour *and* a text label, from
:func:`core.status.dataset_statuses`: freshness, quality on the 0–100 scale, failed
collections), the exchange and the data source, the last stored price with its change against
the previous stored day, a sparkline of daily closes, a coverage strip of the last trading days
(:func:`core.dataset_cards.card_facts`), data points, date range, how often it really updates
(``daily`` only when days were written day after day) and quality, with View data / Validate /
Export actions. Cards are
filtered by symbol/source/venue text, source, venue, date coverage and minimum quality, and
update live: ``collection``/``day_written`` bus events are collected on the bus thread; the
first event of a batch arms a one-shot timer on the session's event loop, which applies the
batch :data:`LIVE_BATCH_MS` later. An idle page costs the server nothing (no polling), so a
hundred open home pages do not keep the event loop busy.

Filters run over every dataset, but only the first :data:`CARDS_PER_PAGE` matching cards are
rendered; *Show more* adds a page. With thousands of datasets the page is built, sent and
painted as fast as with a few (the server builds the session before the browser gets the page).
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from urllib.parse import quote

import panel as pn
import param

from tickdeck.core.calendar import MarketCalendar
from tickdeck.core.catalog import Catalog, DatasetSummary
from tickdeck.core.dataset_cards import CardFacts, PriceSummary, cards_facts, exchange_of
from tickdeck.core.datasets import DatasetFilter, filter_datasets
from tickdeck.core.errors import TickdeckError
from tickdeck.core.status import DatasetStatus, dataset_statuses
from tickdeck.pages.components.actions import ui_action
from tickdeck.pages.components.inputs import DateInput
from tickdeck.pages.components.status import badge_html, quality_html
from tickdeck.pages.components.ui import empty_state_html

LIVE_BATCH_MS = 500  # bus events are applied at most twice a second: smooth without flicker
CARDS_PER_PAGE = 60  # cards rendered at first and per "Show more": 1,000 cards are ~1 MB of HTML
ALL = "(all)"
SPARK_W, SPARK_H = 120, 28  # sparkline size in px: a glance, not a chart
STRIP_WORDS = {"present": "stored", "failing": "stored, failing validation", "missing": "trading day with no data"}

CARD_CSS = """
.td-grid { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); }
@media (min-width: 1500px) { .td-grid { grid-template-columns: repeat(5, 1fr); } }
@media (max-width: 600px) { .td-grid { grid-template-columns: 1fr; } }
.td-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; background: #fff;
           font-family: system-ui, sans-serif; }
.td-card header { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
.td-card h3 { margin: 0; font-size: 1.25em; }
.td-card .td-sub { color: #57606a; font-size: .85em; margin: 2px 0 8px 0; }
.td-card dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: .9em; }
.td-card dt { color: #57606a; } .td-card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.td-card .td-actions { margin-top: 10px; display: flex; gap: 12px; font-size: .9em; flex-wrap: wrap; }
.td-card .td-actions a { color: #0969da; text-decoration: none; font-weight: 600; }
.td-card .td-actions a:hover, .td-card .td-actions a:focus { text-decoration: underline; }
.td-empty { color: #57606a; font-family: system-ui, sans-serif; }
.td-card .td-failure { color: #cf222e; font-size: .85em; margin: 8px 0 0 0; overflow-wrap: anywhere; }
.td-card .td-quality[data-band="poor"] { color: #cf222e; font-weight: 600; }
.td-card .td-quality[data-band="fair"] { color: #9a6700; font-weight: 600; }
.td-card .td-price { display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; margin: 2px 0 4px 0; }
.td-card .td-last { font-size: 1.35em; font-weight: 700; font-variant-numeric: tabular-nums; }
.td-card .td-change { font-weight: 600; font-variant-numeric: tabular-nums; font-size: .92em; }
.td-card .td-up { color: #116329; } .td-card .td-down { color: #a40e26; } .td-card .td-flat { color: #57606a; }
.td-card .td-asof { color: #57606a; font-size: .8em; }
.td-card .td-trend { display: flex; align-items: center; gap: 4px 8px; min-height: 30px; flex-wrap: wrap; }
.td-card .td-spark-range { white-space: nowrap; }
.td-card .td-spark-range, .td-card .td-spark-none, .td-card .td-strip-words {
  color: #57606a; font-size: .8em; margin: 0; }
.td-card .td-coverage { display: flex; align-items: center; gap: 8px; margin: 4px 0 8px 0; flex-wrap: wrap; }
.td-card .td-strip { display: flex; gap: 2px; }
.td-card .td-cell { width: 8px; height: 14px; border-radius: 2px; display: inline-block; }
.td-card .td-cell.td-present { background: #2da44e; }
.td-card .td-cell.td-failing { background: #d4a72c; }
.td-card .td-cell.td-missing { background: #fff; border: 1px dashed #cf222e; box-sizing: border-box; }
"""


def _ago(t: dt.datetime | None) -> str:
    if t is None:
        return "—"
    s = (dt.datetime.now(dt.timezone.utc) - t).total_seconds()
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{int(s // n)} {unit} ago"
    return "just now"


def _price(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}" if abs(x) >= 1 else f"{x:,.4g}"


def price_html(p: PriceSummary) -> str:
    """Last price, then the change against the previous stored day: sign, arrow *and* colour."""
    if p.last is None:
        return '<div class="td-price"><span class="td-last">—</span></div>'
    change = ""
    if p.change is not None:
        kind = "up" if p.change > 0 else "down" if p.change < 0 else "flat"
        arrow = {"up": "▲", "down": "▼", "flat": "■"}[kind]
        pct = f" ({p.change_pct:+.2f} %)" if p.change_pct is not None else ""
        change = (f'<span class="td-change td-{kind}" title="close {p.last_day} vs close {p.previous_day}">'
                  f'<span aria-hidden="true">{arrow}</span> {p.change:+,.2f}{pct}</span>')
    return (f'<div class="td-price"><span class="td-last" data-last="{p.last!r}" '
            f'title="last trade stored, {p.last_day}">{_price(p.last)}</span>{change}'
            f'<span class="td-asof">close {p.last_day}</span></div>')


def sparkline_svg(p: PriceSummary) -> str:
    """Daily closes of the last stored days as a small line (with min/max named for screen readers)."""
    pts = [(i, c) for i, c in enumerate(p.closes) if c is not None]
    if len(pts) < 2:
        return '<p class="td-spark-none">one day stored: no trend yet</p>'
    lo, hi = min(c for _, c in pts), max(c for _, c in pts)
    span, n = (hi - lo) or 1.0, len(p.closes) - 1
    xy = " ".join(f"{SPARK_W * i / n:.1f},{SPARK_H - 2 - (SPARK_H - 4) * (c - lo) / span:.1f}" for i, c in pts)
    label = (f"daily closes {p.days[0]} to {p.days[-1]}: low {_price(lo)}, high {_price(hi)}, "
             f"last {_price(p.last)}")
    return (f'<svg class="td-spark" role="img" aria-label="{html.escape(label)}" viewBox="0 0 {SPARK_W} {SPARK_H}" '
            f'width="{SPARK_W}" height="{SPARK_H}"><title>{html.escape(label)}</title>'
            f'<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{xy}"/></svg>'
            f'<span class="td-spark-range">{_price(lo)}–{_price(hi)}, {len(pts)} days</span>')


def strip_html(strip) -> str:
    """The last trading days as cells (✓ stored, ! failing, ✕ missing) with a count in words."""
    if not strip:
        return ""
    cells = "".join(f'<span class="td-cell td-{st}" title="{d}: {STRIP_WORDS[st]}" data-day="{d}" '
                    f'data-state="{st}"></span>' for d, st in strip)
    have = sum(1 for _, st in strip if st != "missing")
    missing = len(strip) - have
    words = f"{have}/{len(strip)} trading days" + (f", {missing} missing" if missing else "")
    return (f'<div class="td-strip" role="img" aria-label="coverage of the last {len(strip)} trading days: {words}">'
            f'{cells}</div><span class="td-strip-words">{words}</span>')


def card_html(d: DatasetSummary, status: DatasetStatus, facts: CardFacts) -> str:
    e = html.escape
    rng = f"{d.first_day} → {d.last_day}" if d.first_day else "no days yet"
    sym = e(d.symbol)
    quality = f"<dt>Quality</dt><dd>{quality_html(status)}</dd>"
    failure = (f'<p class="td-failure" role="alert">Last collection failed: {e(status.last_error)}</p>'
               if status.last_error else "")
    url = quote(d.symbol)
    return (
        f'<article class="td-card" data-symbol="{sym}" data-status="{status.level}" aria-label="dataset {sym}">'
        f"<header><h3>{sym}</h3>{badge_html(status)}</header>"
        f'<div class="td-sub"><span title="exchange">{e(facts.exchange)}</span> · {e(d.asset_class)} · '
        f'<span title="data source">source {e(facts.source)}</span></div>'
        f"{price_html(facts.price)}"
        f'<div class="td-trend">{sparkline_svg(facts.price)}</div>'
        f'<div class="td-coverage">{strip_html(facts.strip)}</div>'
        f"<dl><dt>Date range</dt><dd>{e(rng)}</dd>"
        f"<dt>Tick days</dt><dd>{d.days:,}</dd>"
        f"<dt>Data points</dt><dd>{d.ticks:,}</dd>"
        f'<dt>Updates</dt><dd class="td-frequency">{e(facts.frequency)}</dd>'
        f"{quality}"
        f"<dt>Last write</dt><dd>{e(_ago(d.last_update))}</dd></dl>{failure}"
        f'<nav class="td-actions" aria-label="actions for {sym}">'
        f'<a class="td-view" href="./explorer?symbol={url}">View data</a>'
        f'<a class="td-validate" href="./validation?symbol={url}">Validate</a>'
        f'<a class="td-export" href="./explorer?symbol={url}&amp;tab=export">Export</a></nav>'
        "</article>"
    )


class HomePage(pn.viewable.Viewer):
    """Dataset cards with search and filters. Renders in Jupyter: ``HomePage(ctx=ctx)``."""

    ctx = param.Parameter(default=None, doc="tickdeck.core.context.Context: catalog, calendar, statuses, live bus")
    catalog = param.ClassSelector(class_=Catalog, doc="catalog service (taken from ctx when not given)")
    search = param.String(default="", doc="case-insensitive filter on symbol, source, venue and exchange")
    source = param.Selector(default=ALL, objects=[ALL], doc="only datasets from this source")
    venue = param.Selector(default=ALL, objects=[ALL], doc="only datasets on this exchange (XNAS, XNYS, CME…)")
    covers_from = param.CalendarDate(default=None, allow_None=True, doc="only datasets with days on/after this")
    covers_to = param.CalendarDate(default=None, allow_None=True, doc="only datasets with days on/before this")
    min_quality = param.Integer(default=0, bounds=(0, 100), doc="minimum quality score in percent (0: any)")
    revision = param.Integer(default=0, doc="bumped when live events changed the catalog (read-only)")
    shown = param.Integer(default=CARDS_PER_PAGE, bounds=(1, None),
                          doc="how many matching cards are rendered (Show more adds a page; a filter change resets it)")

    def __init__(self, **params):
        super().__init__(**params)
        if self.ctx is None:
            raise TickdeckError("HomePage needs ctx=Context")
        if self.catalog is None:
            self.catalog = self.ctx.catalog
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop_listening = None
        self._doc = None  # the served session's document, while following the bus
        self._update_choices()
        self._search = pn.widgets.TextInput.from_param(
            self.param.search, name="Search datasets", placeholder="symbol, source or venue…", width=260)
        self._widgets = [
            self._search,
            pn.widgets.Select.from_param(self.param.source, label="Source", width=150),
            pn.widgets.Select.from_param(self.param.venue, label="Venue", width=130),
            DateInput.from_param(self.param.covers_from, label="Has data from", width=150),
            DateInput.from_param(self.param.covers_to, label="Has data to", width=150),
            pn.widgets.IntSlider.from_param(self.param.min_quality, label="Min quality %", width=170, step=5),
        ]
        self._more = pn.widgets.Button(label="Show more", color="light", visible=False,
                                       css_classes=["td-more"], width=260)
        self._more.on_click(self.show_more)

    @property
    def calendar(self) -> MarketCalendar:
        return self.ctx.calendar()

    def _calendar_of(self, d: DatasetSummary, default: MarketCalendar) -> MarketCalendar:
        """The dataset's exchange calendar (the default one when its name is unknown here)."""
        if not d.calendar or d.calendar == default.name:
            return default
        try:
            return self.ctx.calendar(d.calendar)
        except TickdeckError:
            return default

    def _update_choices(self) -> None:
        items = self.catalog.datasets()
        self.param.source.objects = [ALL, *sorted({d.source for d in items if d.source})]
        self.param.venue.objects = [ALL, *sorted({exchange_of(d) for d in items})]  # the exchange, as on the cards

    def datasets(self) -> list[DatasetSummary]:
        """The datasets passing every filter (one catalog query; :func:`tickdeck.core.datasets.filter_datasets`)."""
        flt = DatasetFilter(source=None if self.source == ALL else self.source, covers_from=self.covers_from,
                            covers_to=self.covers_to, min_quality=self.min_quality)
        items = filter_datasets(self.catalog.datasets(), flt)
        q = self.search.strip().lower()
        if q:  # the filter's text match, plus the exchange the card shows
            items = [d for d in items if DatasetFilter(search=q).matches(d) or q in exchange_of(d).lower()]
        if self.venue != ALL:
            items = [d for d in items if exchange_of(d) == self.venue]
        return items

    def cards(self, items: list[DatasetSummary] | None = None) -> list[tuple[DatasetSummary, DatasetStatus]]:
        """``(dataset, status)`` of ``items`` (default: every dataset passing the filters)."""
        items = self.datasets() if items is None else items
        return list(zip(items, dataset_statuses(self.ctx, datasets=items)))

    @param.depends("search", "source", "venue", "covers_from", "covers_to", "min_quality", watch=True)
    def _first_page(self) -> None:
        """A new filter starts from the first page (silently: the filter change renders once)."""
        with param.parameterized.discard_events(self):
            self.shown = CARDS_PER_PAGE

    def show_more(self, _event=None) -> None:
        """Render the next :data:`CARDS_PER_PAGE` matching cards."""
        self.shown += CARDS_PER_PAGE

    @param.depends("search", "source", "venue", "covers_from", "covers_to", "min_quality", "revision", "shown")
    def _cards(self):
        cal = self.calendar
        matching = self.datasets()
        items = self.cards(matching[:self.shown])
        if not items and not matching and not self.catalog.datasets():
            body = empty_state_html("No datasets yet", "Each stored symbol gets a card here with its days, "
                                    "ticks and quality. Add data one of these ways, then reload this page:")
        elif not items:
            body = '<p class="td-empty">No datasets match. Clear the filters, or generate or collect data first.</p>'
        else:
            facts = cards_facts(self.catalog, lambda d: self._calendar_of(d, cal), [d for d, _ in items])
            cards = "".join(card_html(d, s, facts[d.symbol]) for d, s in items)
            body = f'<div class="td-grid">{cards}</div>'
        n, rest = len(matching), len(matching) - len(items)
        summary = f"{n:,} dataset{'s' if n != 1 else ''}" + (f" · showing {len(items):,}" if rest else "")
        self._more.label = f"Show {min(rest, CARDS_PER_PAGE):,} more ({rest:,} not shown)"
        self._more.visible = rest > 0
        cards = pn.pane.HTML(f'<p class="td-empty" id="td-count" aria-live="polite">{summary}</p>' + body,
                             stylesheets=[CARD_CSS], sizing_mode="stretch_width")
        return pn.Column(cards, self._more, sizing_mode="stretch_width")

    # -- live updates ---------------------------------------------------------------------
    def _on_event(self, msg) -> None:
        """Bus thread: remember which symbols changed; the first of a batch arms the flush timer.

        ``msg`` is a :class:`core.events.Message`; only ``DayWritten`` events change the cards.
        """
        if msg.type != "DayWritten":
            return
        with self._lock:
            first = not self._pending
            self._pending.add(msg.event.symbol)
        doc = self._doc
        if first and doc is not None:
            try:
                doc.add_next_tick_callback(self._arm_flush)  # the one document call safe from another thread
            except Exception:  # noqa: BLE001 - the session is closing; nothing left to update
                pass

    def _arm_flush(self) -> None:
        """Session loop: apply the batch once, :data:`LIVE_BATCH_MS` after its first event."""
        pn.state.add_periodic_callback(self.flush, period=LIVE_BATCH_MS, count=1)

    @ui_action
    def flush(self) -> int:
        """Apply pending live events in one batch; returns how many symbols changed."""
        with self._lock:
            changed, self._pending = self._pending, set()
        if changed:
            self._update_choices()
            self.revision += 1
        return len(changed)

    def start_live(self) -> None:
        """Follow ``collection`` events on ``ctx.bus`` (served sessions; stops with the session)."""
        if self.ctx is None or self._stop_listening is not None:
            return
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            self._doc = doc
            pn.state.on_session_destroyed(lambda _ctx: self.stop_live())
        self._stop_listening = self.ctx.bus.listen("collection", self._on_event)

    def stop_live(self) -> None:
        self._doc = None
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("## Datasets"), pn.FlexBox(*self._widgets, align_items="end"), self._cards,
                         sizing_mode="stretch_width")
