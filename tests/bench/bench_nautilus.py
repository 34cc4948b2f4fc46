"""Nautilus catalog export throughput: tickdeck's array encoder against Nautilus's own object path.

Run: ``.venv/bin/python tests/bench/bench_nautilus.py [--ticks 1000000] [--reps 3]``. One synthetic
day is stored (real ingest), then exported as trade + quote ticks by
:func:`core.nautilus_export.export_catalog` (fixed-point encoding over whole numpy arrays), and
the same arrays are written the way a Nautilus user would: ``TradeTick.from_raw_arrays_to_list``
then ``ParquetDataCatalog.write_data``. The two runs alternate (the machine is shared), best of N.
Prints ticks/s; no assertions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from tickdeck.core.config import Settings  # noqa: E402
from tickdeck.core.context import Context  # noqa: E402
from tickdeck.core.nautilus_export import export_catalog  # noqa: E402
from tickdeck.core.sources.synthetic import generate_into_store  # noqa: E402

DAY = "2024-07-02"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    from nautilus_trader.model.data import TradeTick
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ctx = Context.open(Settings(data_dir=tmp / "data"))
        generate_into_store(ctx, ["AAPL"], DAY, DAY, seed=1, ticks=a.ticks)
        df = ctx.store.read_day("AAPL", DAY, columns=["last", "last_sz", "trade_sign", "tick_id"])
        n = len(df)
        ts = df.index.tz_convert("UTC").asi8.astype(np.uint64)
        price, size = df["last"].to_numpy(np.float64), df["last_sz"].to_numpy(np.float64)
        side = np.where(df["trade_sign"].to_numpy() > 0, 1, 2).astype(np.uint8)
        ids = [str(i) for i in df["tick_id"]]
        ours, theirs = [], []
        for r in range(a.reps):
            out = tmp / f"ours{r}"
            t = time.perf_counter()
            res = export_catalog(ctx, ["AAPL"], {"AAPL": [ctx.store.list_days("AAPL")[0]]}, out)
            ours.append(time.perf_counter() - t)
            shutil.rmtree(out)
            out = tmp / f"theirs{r}"
            t = time.perf_counter()
            objs = TradeTick.from_raw_arrays_to_list(InstrumentId.from_str("AAPL.XNAS"), 2, 0, price, size, side, ids,
                                                     ts, ts)
            ParquetDataCatalog(str(out)).write_data(objs)
            theirs.append(time.perf_counter() - t)
            del objs
            shutil.rmtree(out)
        ctx.close()
    print(f"{n:,} ticks ({res.quotes:,} quote changes written too by tickdeck)")
    print(f"tickdeck export_catalog (read day + trades + quotes + instrument): best {min(ours):.2f} s "
          f"= {n / min(ours):,.0f} ticks/s   runs {', '.join(f'{x:.2f}' for x in ours)}")
    print(f"Nautilus from_raw_arrays_to_list + write_data (trades only):      best {min(theirs):.2f} s "
          f"= {n / min(theirs):,.0f} ticks/s   runs {', '.join(f'{x:.2f}' for x in theirs)}")


if __name__ == "__main__":
    main()
