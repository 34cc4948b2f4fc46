"""Coverage of a symbol: a month-by-month gap calendar (present / missing / failing / closed).

Each day cell carries a symbol and a text title besides its colour: ``✓`` stored,
``✕`` a trading day with no data, ``!`` stored but failing validation, blank for a
non-trading day, ``H`` for a holiday (named in its title and the legend). A cell can link to
the page that shows the day (the catalog links to the explorer and the validation page).
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt
import html

from tickdeck.core.calendar import MarketCalendar
from tickdeck.core.catalog import Catalog

CALENDAR_MAX_MONTHS = 24  # older months are summarised in a line: the grid stays readable

CAL_CSS = """
.td-months { display: flex; flex-wrap: wrap; gap: 16px; font-family: system-ui, sans-serif; }
.td-month table { border-collapse: collapse; font-size: .8em; }
.td-month caption { font-weight: 600; text-align: left; padding-bottom: 4px; }
.td-month th { color: #57606a; font-weight: 400; width: 26px; }
.td-month td { width: 26px; height: 24px; text-align: center; border: 1px solid #eaeef2; }
.td-month td.present { background: #dafbe1; color: #1a7f37; }
.td-month td.missing { background: #ffebe9; color: #cf222e; font-weight: 700; }
.td-month td.failing { background: #fff8c5; color: #9a6700; font-weight: 700; }
.td-month td.closed { background: #f6f8fa; color: #8c959f; }
.td-month td.holiday { background: #eef1f4; color: #57606a; font-weight: 700; }
.td-month td a { color: inherit; text-decoration: none; display: block; }
.td-month td a:hover, .td-month td a:focus { text-decoration: underline; }
.td-legend span { margin-right: 14px; }
.td-holidays { color: #57606a; font-size: .9em; }
"""
MARKS = {"present": "✓", "missing": "✕", "failing": "!", "closed": ""}
TITLES = {"present": "stored", "missing": "trading day with no data", "failing": "stored, failing validation",
          "closed": "market closed"}


def failing_days(catalog: Catalog, symbol: str) -> set[dt.date]:
    """Days whose latest validation result is FAIL (see :meth:`Catalog.failing_days`)."""
    return catalog.failing_days(symbol)


def day_states(stored: set[dt.date], failing: set[dt.date], cal: MarketCalendar, start: dt.date,
               end: dt.date) -> dict[dt.date, str]:
    trading = set(cal.trading_days(start, end))
    out = {}
    d = start
    while d <= end:
        if d in failing and d in stored:
            out[d] = "failing"
        elif d in stored:
            out[d] = "present"
        elif d in trading:
            out[d] = "missing"
        else:
            out[d] = "closed"
        d += dt.timedelta(days=1)
    return out


def calendar_html(states: dict[dt.date, str], *, link=None, holidays: dict | None = None) -> str:
    """Month tables for the last :data:`CALENDAR_MAX_MONTHS` months of ``states``.

    ``link(day, state)`` returns the URL a day cell opens (or ``None``); ``holidays`` maps closed
    weekdays to the holiday's name, shown in the cell (``H``), its title and the legend.
    """
    holidays = holidays or {}
    if not states:
        return '<p class="td-empty">No days stored.</p>'
    months = sorted({(d.year, d.month) for d in states})
    skipped = months[:-CALENDAR_MAX_MONTHS]
    months = months[-CALENDAR_MAX_MONTHS:]
    parts = []
    if skipped:
        parts.append(f"<p>{len(skipped)} earlier month(s) not drawn.</p>")
    parts.append('<div class="td-months">')
    for y, m in months:
        rows = []
        for week in pycal.Calendar(firstweekday=0).monthdatescalendar(y, m):
            cells = []
            for d in week:
                st = states.get(d) if d.month == m else None
                if st is None:
                    cells.append("<td></td>")
                else:
                    name = holidays.get(d) if st == "closed" else None
                    title = html.escape(f"{d}: {TITLES[st]}" + (f" — {name}" if name else ""))
                    mark = "H" if name else (MARKS[st] or d.day)
                    url = link(d, st) if link else None
                    if url:
                        mark = f'<a href="{html.escape(url)}" aria-label="{title}">{mark}</a>'
                    extra = f' data-holiday="{html.escape(name)}"' if name else ""
                    cls = f"{st} holiday" if name else st
                    cells.append(f'<td class="{cls}" title="{title}" data-day="{d}"{extra}>{mark}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = "".join(f"<th>{n}</th>" for n in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"))
        parts.append(f'<div class="td-month"><table><caption>{pycal.month_name[m]} {y}</caption>'
                     f"<tr>{head}</tr>{''.join(rows)}</table></div>")
    parts.append("</div>")
    counts = {k: sum(1 for s in states.values() if s == k) for k in ("present", "missing", "failing")}
    legend = (f'<p class="td-legend"><span>✓ stored: {counts["present"]}</span>'
              f'<span>✕ missing trading days: {counts["missing"]}</span>'
              f'<span>! failing validation: {counts["failing"]}</span><span>H: holiday</span>'
              f'<span>blank/grey: market closed</span></p>')
    shown = sorted((d, n) for d, n in holidays.items() if states.get(d) == "closed")
    if shown:
        legend += ('<p class="td-holidays">Holidays: '
                   + "; ".join(f"{d} {html.escape(n)}" for d, n in shown) + "</p>")
    return legend + "".join(parts)
