"""Load the shared real-data samples (/work/shared/realdata, from NautilusTrader's test data)
into a store by building the raw tick columns directly (the general importers live elsewhere).

Conventions used here: tick_id = row number in file order; date/time = the ET wall clock of the
stamp; BTC sizes in micro-BTC (1e-6 BTC) so fractional quantities stay integers; USD/JPY quote
ticks become "trades" at the midpoint with size 0; DBN trades use ``ts_event``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tickdeck.core.calendar import get_calendar
from tickdeck.core.enrich import date_time_from_utc_ns
from tickdeck.core.ingest import ingest_day
from tickdeck.core.schema import empty_raw


def raw_from(ns, price, size, bid=None, ask=None) -> dict:
    ns = np.asarray(ns, dtype=np.int64)
    order = np.argsort(ns, kind="stable")
    n = ns.size
    r = empty_raw(n)
    r["tick_id"][:] = np.arange(1, n + 1)[order]
    d, t = date_time_from_utc_ns(ns[order])
    r["date"][:], r["time"][:] = d, t
    r["last"][:] = np.asarray(price, dtype=np.float64)[order]
    r["last_sz"][:] = np.asarray(size, dtype=np.int64)[order]
    r["tot_vlm"][:] = np.cumsum(r["last_sz"])
    if bid is not None:
        r["bid"][:] = np.asarray(bid, dtype=np.float64)[order]
        r["ask"][:] = np.asarray(ask, dtype=np.float64)[order]
    r["last_type"][:] = ord("C")
    return r, ns[order]


def _dbn(path):
    import databento as db

    return db.DBNStore.from_file(str(path)).to_df()


def load_all(ctx, root) -> dict[str, tuple[str, object]]:
    """Ingest every sample; returns {name: (symbol, day)}."""
    out = {}
    cme, crypto = get_calendar("CMES"), get_calendar("24/7")

    df = _dbn(root / "esu4-glbx-trades_2024-07-01T23-58.dbn.zst")
    ns = df["ts_event"].astype("int64").to_numpy()
    raw, ns = raw_from(ns, df["price"], df["size"])
    day = pd.Timestamp(cme.session_days(ns[:1])[0]).date()
    ingest_day(ctx, "ESU4", day, raw, source="import:dbn", calendar=cme, timestamps_ns=ns)
    out["esu4_trades"] = ("ESU4", day)

    df = _dbn(root / "esu4-glbx-mbp-1_2024-07-01T23-58.dbn.zst")
    df = df[df["action"] == "T"]
    ns = df["ts_event"].astype("int64").to_numpy()
    raw, ns = raw_from(ns, df["price"], df["size"], df["bid_px_00"], df["ask_px_00"])
    ingest_day(ctx, "ESU4.MBP", day, raw, source="import:dbn", calendar=cme, timestamps_ns=ns)
    out["esu4_mbp"] = ("ESU4.MBP", day)

    df = _dbn(root / "esh4-glbx-mdp3-20231225.mbo.dbn.zst")
    df = df[df["action"] == "T"]
    ns = df["ts_event"].astype("int64").to_numpy()
    raw, ns = raw_from(ns, df["price"], df["size"])
    ingest_day(ctx, "ESH4", "2023-12-25", raw, source="import:dbn", calendar=cme, timestamps_ns=ns)
    out["esh4_mbo"] = ("ESH4", pd.Timestamp("2023-12-25").date())

    df = pd.read_parquet(root / "btcusdt-trades.parquet")
    ns = df["timestamp"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    raw, ns = raw_from(ns, df["price"], np.round(df["quantity"].to_numpy() * 1e6))
    day = pd.Timestamp(crypto.session_days(ns[:1])[0]).date()
    ingest_day(ctx, "BTCUSDT", day, raw, source="import:parquet", calendar=crypto, timestamps_ns=ns)
    out["btcusdt"] = ("BTCUSDT", day)

    df = pd.read_csv(root / "usdjpy-ticks.csv")
    ns = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601").astype("int64").to_numpy()
    mid = (df["bid"].to_numpy() + df["ask"].to_numpy()) / 2
    raw, ns = raw_from(ns, mid, np.zeros(len(df)), df["bid"], df["ask"])
    day = pd.Timestamp(crypto.session_days(ns[:1])[0]).date()
    ingest_day(ctx, "USDJPY", day, raw, source="import:csv", calendar=crypto, timestamps_ns=ns)
    out["usdjpy"] = ("USDJPY", day)
    return out
