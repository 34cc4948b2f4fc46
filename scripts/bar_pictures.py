"""Draw one small picture per bar family for docs/bars.md (PNG files in docs/img/bars/).

Demo data: the first hour of a seeded synthetic AAPL regular session. Each picture shows the
trade prices in grey and the family's bars as candles drawn from start to end (x = time), so bar
widths show how long each bar lasted. Run: ``.venv/bin/python scripts/bar_pictures.py``
(needs the ``docs`` extra: matplotlib).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tickdeck.core.bars import compute_bars  # noqa: E402
from tickdeck.core.calendar import get_calendar  # noqa: E402
from tickdeck.core.enrich import enrich  # noqa: E402
from tickdeck.core.sources.synthetic import generate_day  # noqa: E402

OUT = ROOT / "docs" / "img" / "bars"
DAY = "2024-07-02"
PICTURES = {  # family -> spec used for its picture (scaled to one hour of demo data)
    "time": "time:2m", "tick": "tick:150", "volume": "volume:100000", "dollar": "dollar:20000000",
    "range": "range:0.3", "renko": "renko:0.25", "heikin_ashi": "heikin_ashi:2m",
    "tick_imbalance": "tick_imbalance:ewma10:t80", "volume_imbalance": "volume_imbalance:ewma10:t80",
    "dollar_imbalance": "dollar_imbalance:ewma10:t80", "tick_runs": "tick_runs:ewma10:t200",
    "volume_runs": "volume_runs:ewma10:t200", "dollar_runs": "dollar_runs:ewma10:t200",
}


def demo_ticks() -> pd.DataFrame:
    cal = get_calendar("XNYS")
    df = enrich(generate_day("AAPL", DAY, calendar=cal, seed=3), symbol="AAPL", source="synthetic",
                ingest_id="docs", calendar=cal)
    t0 = pd.Timestamp(f"{DAY} 09:30", tz="America/New_York")
    return df[(df.index >= t0) & (df.index < t0 + pd.Timedelta("1h"))]


def draw(ticks: pd.DataFrame, spec: str, path: Path) -> int:
    bars = compute_bars(ticks, spec)
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=100)
    tx = ticks.index.tz_localize(None)
    ax.plot(tx, ticks["last"], color="0.75", lw=0.5, zorder=1)
    starts = bars.index.tz_localize(None)
    ends = pd.DatetimeIndex(bars["end"]).tz_localize(None)
    for s, e, (o, h, l, c) in zip(starts, ends, bars[["open", "high", "low", "close"]].to_numpy()):
        x0, x1 = mdates.date2num(s), mdates.date2num(e)
        if x1 <= x0:
            x1 = x0 + 1 / 86400  # bars within one second: one second wide
        up = c >= o
        color = "#2a9d8f" if up else "#e76f51"
        ax.vlines((x0 + x1) / 2, l, h, color=color, lw=0.8, zorder=2)
        ax.add_patch(plt.Rectangle((x0, min(o, c)), x1 - x0, max(abs(c - o), 1e-3), facecolor=color,
                                   edgecolor=color, alpha=0.55, zorder=3))
    ax.set_title(f"{spec}  —  {len(bars)} bars over the first regular hour", fontsize=9)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.tick_params(labelsize=7)
    ax.set_ylabel("price", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return len(bars)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ticks = demo_ticks()
    for family, spec in PICTURES.items():
        n = draw(ticks, spec, OUT / f"{family}.png")
        print(f"{family:18s} {spec:30s} {n:4d} bars -> docs/img/bars/{family}.png")


if __name__ == "__main__":
    main()
