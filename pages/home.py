"""Home: the dataset marketplace — one card per stored dataset, read from the catalog."""

from __future__ import annotations

import datetime as dt
import html

import panel as pn
import param

from core.catalog import Catalog, DatasetSummary

CARD_CSS = """
.td-grid { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); }
@media (min-width: 1500px) { .td-grid { grid-template-columns: repeat(5, 1fr); } }
@media (max-width: 600px) { .td-grid { grid-template-columns: 1fr; } }
.td-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; background: #fff;
           font-family: system-ui, sans-serif; }
.td-card h3 { margin: 0 0 2px 0; font-size: 1.25em; }
.td-card .td-sub { color: #57606a; font-size: .85em; margin-bottom: 8px; }
.td-card dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: .9em; }
.td-card dt { color: #57606a; } .td-card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.td-card .td-actions { margin-top: 10px; display: flex; gap: 8px; font-size: .9em; }
.td-card .td-actions a { color: #0969da; text-decoration: none; }
.td-empty { color: #57606a; font-family: system-ui, sans-serif; }
"""


def _ago(t: dt.datetime | None) -> str:
    if t is None:
        return "—"
    s = (dt.datetime.now(dt.timezone.utc) - t).total_seconds()
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{int(s // n)} {unit} ago"
    return "just now"


def card_html(d: DatasetSummary) -> str:
    e = html.escape
    rng = f"{d.first_day} → {d.last_day}" if d.first_day else "no days yet"
    sym = e(d.symbol)
    return (
        f'<article class="td-card" data-symbol="{sym}" aria-label="dataset {sym}">'
        f"<h3>{sym}</h3>"
        f'<div class="td-sub">{e(d.source or "unknown source")} · {e(d.venue or d.calendar)} · {e(d.asset_class)}</div>'
        f"<dl><dt>Date range</dt><dd>{e(rng)}</dd>"
        f"<dt>Tick days</dt><dd>{d.days:,}</dd>"
        f"<dt>Data points</dt><dd>{d.ticks:,}</dd>"
        f"<dt>Last update</dt><dd>{e(_ago(d.last_update))}</dd></dl>"
        "</article>"
    )


class HomePage(pn.viewable.Viewer):
    """Dataset cards with a search box. Renders in Jupyter: ``HomePage(catalog=ctx.catalog)``."""

    catalog = param.ClassSelector(class_=Catalog, doc="catalog service the cards are read from")
    search = param.String(default="", doc="case-insensitive filter on symbol, source and venue")

    def __init__(self, **params):
        super().__init__(**params)
        self._search = pn.widgets.TextInput.from_param(
            self.param.search, name="Search datasets", placeholder="symbol, source or venue…",
            width=320)

    def datasets(self) -> list[DatasetSummary]:
        q = self.search.strip().lower()
        items = self.catalog.datasets()
        if q:
            items = [d for d in items if q in d.symbol.lower() or q in d.source.lower() or q in d.venue.lower()]
        return items

    @param.depends("search")
    def _cards(self):
        items = self.datasets()
        if not items:
            body = '<p class="td-empty">No datasets match. Generate or collect data first.</p>'
        else:
            body = '<div class="td-grid">' + "".join(card_html(d) for d in items) + "</div>"
        summary = f"{len(items)} dataset{'s' if len(items) != 1 else ''}"
        return pn.pane.HTML(f'<p class="td-empty" id="td-count">{summary}</p>' + body,
                            stylesheets=[CARD_CSS], sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("## Datasets"), self._search, self._cards, sizing_mode="stretch_width")
