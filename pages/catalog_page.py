"""Catalog: what is stored, as a tree venue → instrument → data type, and a gap calendar.

The tree is built from catalog rows only (tier-1 tick days and tier-2 bar series; no frames
read): the venue is the exchange (XNYS, XNAS, CME…; the data vendor is each instrument's
"source"); per instrument its tick days, ticks and date coverage, then each bar family as its
own branch with its specs (numeric order), each spec a link to those bars in the explorer.
Selecting an instrument draws its gap calendar: days stored (linking to the explorer), trading
days missing against the exchange calendar and days failing validation (linking to the
validation page), holidays labelled with their name.
"""

from __future__ import annotations

import html
from urllib.parse import quote

import panel as pn
import param

from tickdeck.core.catalog_tree import catalog_tree
from tickdeck.core.dataset_cards import full_spec, group_specs, source_of, spec_label
from tickdeck.core.errors import TickdeckError
from tickdeck.core.naming import normalize_ticker
from tickdeck.core.status import dataset_status
from tickdeck.pages.components.coverage import CAL_CSS, calendar_html, day_states, failing_days
from tickdeck.pages.components.safe import describe_invalid, sync_url
from tickdeck.pages.components.status import badge_html, quality_html
from tickdeck.pages.components.ui import empty_state_html

TREE_CSS = """
.td-tree { font-family: system-ui, sans-serif; font-size: .95em; }
.td-tree details { margin-left: 14px; } .td-tree > details { margin-left: 0; }
.td-tree summary { cursor: pointer; padding: 2px 0; }
.td-tree .td-meta { color: #57606a; font-size: .9em; margin-left: 6px; }
.td-tree ul { margin: 2px 0 6px 18px; padding: 0; }
.td-tree a { color: #0969da; }
.td-tree ul.td-specs { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin-left: 8px; }
.td-tree ul.td-specs li { white-space: nowrap; }
"""


class CatalogPage(pn.viewable.Viewer):
    """Tree of stored data and a gap calendar. ``CatalogPage(ctx=ctx, symbol="AAPL")`` in Jupyter."""

    ctx = param.Parameter(doc="tickdeck.core.context.Context — injected service")
    symbol = param.String(default="", doc="instrument whose gap calendar is shown (empty: the first)")
    link_error = param.String(default="", doc="why a symbol from the link was not used (read-only)")

    def __init__(self, **params):
        super().__init__(**params)
        self._datasets = self.ctx.catalog.datasets()
        if not self.symbol and self._datasets:
            self.symbol = self._datasets[0].symbol
        self._select = pn.widgets.Select.from_param(
            self.param.symbol, options=[d.symbol for d in self._datasets] or [""], name="Instrument", width=180)

    def tree(self) -> dict:
        """``{venue: {symbol: {"ticks": (days, ticks, first, last), "bars": {family: {spec: (series, bars)}}}}}``.

        The venue is the exchange (:func:`tickdeck.core.dataset_cards.exchange_of`), never the vendor."""
        return {v.venue: {i.symbol: {"ticks": (i.days, i.ticks, i.first_day, i.last_day),
                                     "bars": {f.family: {s.spec: (s.days, s.bars) for s in group_specs(f.specs)}
                                              for f in i.bars}}
                          for i in v.instruments}
                for v in catalog_tree(self.ctx, self._datasets)}

    def tree_html(self) -> str:
        e = html.escape
        sources = {d.symbol: source_of(d) for d in self._datasets}
        parts = ['<div class="td-tree">']
        for venue, instruments in self.tree().items():
            parts.append(f'<details open data-venue="{e(venue)}"><summary><b>{e(venue)}</b>'
                         f'<span class="td-meta">venue · {len(instruments)} instrument(s)</span></summary>')
            for sym, info in instruments.items():
                days, ticks, first, last = info["ticks"]
                url = quote(sym)
                nspecs = sum(len(specs) for specs in info["bars"].values())
                parts.append(
                    f'<details data-symbol="{e(sym)}"><summary>{e(sym)}'
                    f'<span class="td-meta">{days:,} days · {first or "—"} → {last or "—"} · '
                    f'source {e(sources.get(sym, "unknown"))}</span></summary><ul>'
                    f'<li>ticks: {ticks:,} in {days:,} days <a href="./explorer?symbol={url}">view</a> · '
                    f'<a href="./validation?symbol={url}">validate</a></li>')
                if not info["bars"]:
                    parts.append("<li>bars: none stored (computed on demand in the explorer)</li>")
                else:
                    parts.append(f'<li>bars: {len(info["bars"])} famil{"y" if len(info["bars"]) == 1 else "ies"}, '
                                 f"{nspecs} spec(s)<ul>")
                for fam, specs in info["bars"].items():
                    links = "".join(
                        f'<li><a class="td-spec" data-spec="{e(full_spec(fam, spec))}" '
                        f'href="./explorer?symbol={url}&amp;view=bars&amp;spec={quote(full_spec(fam, spec))}">'
                        f'{e(spec_label(fam, spec))}</a><span class="td-meta">{n:,} bars · {k} day(s)</span></li>'
                        for spec, (k, n) in specs.items())
                    parts.append(f'<li><details class="td-family" data-family="{e(fam)}"><summary>{e(fam)}'
                                 f'<span class="td-meta">{len(specs)} spec(s)</span></summary>'
                                 f'<ul class="td-specs">{links}</ul></details></li>')
                if info["bars"]:
                    parts.append("</ul></li>")
                parts.append("</ul></details>")
            parts.append("</details>")
        if not self._datasets:
            parts.append(empty_state_html("Nothing stored yet", "The catalog lists every venue, instrument, day and "
                                          "bar series in the store. Add data one of these ways:"))
        parts.append("</div>")
        return "".join(parts)

    def day_states(self) -> dict:
        """State of every calendar day between the symbol's first and last stored day."""
        if not self.symbol:
            return {}
        normalize_ticker(self.symbol)  # InvalidSymbol (readable) for a bad ticker from a link
        stored = set(self.ctx.catalog.stored_days(self.symbol))
        if not stored:
            return {}
        cal = self.ctx.calendar_for(self.symbol)
        return day_states(stored, failing_days(self.ctx.catalog, self.symbol), cal, min(stored), max(stored))

    def day_link(self, day, state: str) -> str | None:
        """Where a calendar day leads: a stored day to the explorer, a failing or missing one to the
        validation page (which says what failed, or that the day has no data); closed days nowhere."""
        sym = quote(self.symbol)
        if state == "present":
            return f"./explorer?symbol={sym}&start={day}&end={day}"
        if state in ("failing", "missing"):
            return f"./validation?symbol={sym}&day={day}"
        return None

    @param.depends("symbol", watch=True)
    def _check_symbol(self) -> None:
        """A ticker from a link that cannot be one is named on the page; the first instrument is shown."""
        if not self.symbol:
            return
        try:
            normalize_ticker(self.symbol)
        except TickdeckError as e:
            self.link_error = f"{e} (from the link; showing the first instrument instead)"
            self.symbol = self._datasets[0].symbol if self._datasets else ""

    @param.depends("link_error")
    def _link_note(self):
        text = f"<p class='td-error' role='alert'>⚠ {html.escape(self.link_error)}</p>" if self.link_error else ""
        return pn.pane.HTML(text, sizing_mode="stretch_width")

    @param.depends("symbol")
    def _calendar(self):
        try:
            states = self.day_states()
        except TickdeckError as e:  # e.g. ?symbol=<x in the link: say so, keep the page
            return pn.pane.HTML(f"<p class='td-error' role='alert'>⚠ {html.escape(str(e))}</p>",
                                sizing_mode="stretch_width")
        lag = ""
        if states:
            st = dataset_status(self.ctx, self.symbol)
            lag = (f"<p>Last stored day {st.last_day}; {st.days_behind} trading day(s) behind {st.expected_day}.</p>"
                   if st.stale else f"<p>Up to date with {st.expected_day}.</p>")
            lag = f"<p>{badge_html(st)} quality {quality_html(st)}</p>{lag}"
        holidays = {}
        if states:
            holidays = self.ctx.calendar_for(self.symbol).holidays(min(states), max(states))
        cal = calendar_html(states, link=self.day_link, holidays=holidays)
        return pn.pane.HTML(f"<h3>Coverage of {html.escape(self.symbol)}</h3>{lag}{cal}",
                            stylesheets=[CAL_CSS], sizing_mode="stretch_width")

    def __panel__(self):
        tree = pn.pane.HTML(self.tree_html(), stylesheets=[TREE_CSS], sizing_mode="stretch_width")
        return pn.Column(
            pn.pane.Markdown("## Catalog"),
            pn.FlexBox(  # side by side on a wide screen, stacked on a phone (the calendar never clipped)
                pn.Column(pn.pane.Markdown("### Venue → instrument → data"), tree, sizing_mode="stretch_width",
                          styles={"flex": "1 1 340px", "max-width": "560px"}),
                pn.Column(self._select, self._link_note, self._calendar, sizing_mode="stretch_width",
                          styles={"flex": "2 1 340px"}),
                flex_wrap="wrap", gap="16px", sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def sync_location(self) -> None:
        sync_url(self, {"symbol": "symbol"}, lambda bad: self._invalid_link(bad))

    def _invalid_link(self, bad: dict) -> None:
        from tickdeck.pages.components.actions import notify

        notify(describe_invalid(bad), "warning")
