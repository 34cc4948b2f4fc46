"""tickdeck HTTP API from Python: one day of ticks as Arrow into pandas and Polars (httpx + pyarrow).

Run against a served tickdeck (``tickdeck serve``)::

    export TICKDECK_URL=http://localhost:5006          # the server (with its --prefix, if any)
    export TICKDECK_API_KEY=tdk_…                      # `tickdeck keys create --user U --name N`
    python docs/examples/api_client.py AAPL 2024-07-02

It asks ``GET /api/v1/data/{symbol}/ticks?format=arrow`` — an Arrow IPC stream, read batch by batch
as it arrives — and hands the table to pandas and to Polars without converting a row. docs/api.md
("Ticks") lists the other formats and parameters. Needs ``httpx``, ``pyarrow``, ``pandas`` and
``polars``.

With ``--follow N`` it then prints N batches of live ticks from the ``/ws/v1`` stream
(:func:`follow_ticks`, needs ``websockets``; docs/api.md "Streams"), resuming after a dropped
connection from the last tick it printed::

    python docs/examples/api_client.py AAPL 2024-07-02 --follow 20
"""

from __future__ import annotations

import argparse
import io
import os
import sys

import httpx
import polars as pl
import pyarrow as pa


class _ResponseFile(io.RawIOBase):
    """The body of a streamed httpx response as a file, so pyarrow reads it while it arrives."""

    def __init__(self, response: httpx.Response):
        self._chunks = response.iter_raw(1 << 20)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def client(url: str | None = None, key: str | None = None) -> httpx.Client:
    """An HTTP client for the server at ``url`` (``$TICKDECK_URL``) with the API key ``key``
    (``$TICKDECK_API_KEY``; none: a loopback call to a server without users)."""
    url = url or os.environ.get("TICKDECK_URL", "http://localhost:5006")
    key = key or os.environ.get("TICKDECK_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0, read=300.0))


def fetch_ticks(api: httpx.Client, symbol: str, day: str, *, session: str = "all",
                columns: list[str] | None = None) -> pa.Table:
    """One stored day of ``symbol`` (``session``: all, pre, regular or after) as an Arrow table."""
    params = {"start": day, "format": "arrow", "session": session}
    if columns:
        params["columns"] = ",".join(columns)
    with api.stream("GET", f"/api/v1/data/{symbol}/ticks", params=params) as r:
        if r.status_code != 200:  # a problem document: {"title", "status", "detail"}
            r.read()
            raise SystemExit(f"{r.status_code} {r.json()['title']}: {r.json()['detail']}")
        with pa.ipc.open_stream(io.BufferedReader(_ResponseFile(r), 1 << 20)) as reader:
            return reader.read_all()  # or: for batch in reader: … (one record batch at a time)


# == live ticks over /ws/v1 =====================================================================
def follow_ticks(symbol: str, messages: int, url: str | None = None, key: str | None = None) -> None:
    """Print ``messages`` batches of ``symbol``'s live ticks from the multiplexed stream ``/ws/v1``.

    Every WebSocket frame is a JSON array of messages ``{type, channel, data, timestamp, sequence}``;
    a ``TicksAppended``'s ``data`` holds the ticks column by column. Its ``sequence`` is the last tick
    id, so ``<data.day>:<sequence>`` is where to resume: after a dropped connection this reconnects
    with that cursor as ``since`` and gets the ticks it missed (from the store) before live ones.
    """
    import json

    import pandas as pd
    from websockets.exceptions import ConnectionClosedError, InvalidStatus
    from websockets.sync.client import connect

    url = (url or os.environ.get("TICKDECK_URL", "http://localhost:5006")).replace("http", "ws", 1)
    key = key or os.environ.get("TICKDECK_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    channel, cursor, seen = f"tick:{symbol.upper()}", None, 0
    while seen < messages:
        request = {"type": "subscribe", "channels": [channel]}
        if cursor:
            request["since"] = {channel: cursor}
        try:
            with connect(f"{url}/ws/v1", additional_headers=headers, max_size=None) as ws:
                ws.send(json.dumps(request))
                while seen < messages:
                    for m in json.loads(ws.recv()):
                        if m["type"] == "error":
                            raise SystemExit(f"stream error: {m['data']['detail']}")
                        if m["type"] != "TicksAppended":
                            continue  # subscribed, replayed, heartbeat
                        d = m["data"]
                        ticks = pd.DataFrame({"time": pd.to_datetime(d["timestamp"], utc=True), "last": d["last"],
                                              "size": d["last_sz"], "bid": d["bid"], "ask": d["ask"]})
                        when = ticks["time"].dt.tz_convert("America/New_York").dt.strftime("%H:%M:%S.%f")
                        cursor = f"{d['day']}:{m['sequence']}"
                        print(f"{d['symbol']} {d['origin']}: {len(ticks)} ticks {when.iloc[0]} → {when.iloc[-1]}, "
                              f"last {ticks['last'].iloc[-1]:.2f}, cursor {cursor}")
                        seen += 1
        except InvalidStatus as e:  # the upgrade was refused: the body is a problem document
            raise SystemExit(f"{e.response.status_code}: {e.response.body.decode(errors='replace')}") from None
        except ConnectionClosedError as e:  # e.g. 4008 too slow: resume after the cursor
            print(f"stream closed ({e.rcvd.code if e.rcvd else 'no close frame'}); resuming after {cursor}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("symbol")
    ap.add_argument("day", help="YYYY-MM-DD, a stored day")
    ap.add_argument("--session", default="all", choices=["all", "pre", "regular", "after"])
    ap.add_argument("--follow", type=int, default=0, metavar="N",
                    help="then print N batches of live ticks from /ws/v1 (needs live collection running)")
    args = ap.parse_args(argv)

    with client() as api:
        table = fetch_ticks(api, args.symbol, args.day, session=args.session)

    frame = table.to_pandas()  # timestamps stay datetime64[ns, America/New_York]; text columns categoricals
    df = pl.from_arrow(table)  # zero-copy where the types allow
    vwap_pandas = float((frame["last"] * frame["last_sz"]).sum() / frame["last_sz"].sum())
    vwap_polars = df.select((pl.col("last") * pl.col("last_sz")).sum() / pl.col("last_sz").sum()).item()
    first, last = frame["timestamp"].iloc[0], frame["timestamp"].iloc[-1]
    print(f"{args.symbol} {args.day} ({args.session}): {table.num_rows:,} ticks, {table.num_columns} columns")
    print(f"pandas {frame.shape} {first} → {last}")
    print(f"polars {df.shape} timestamp dtype {df.schema['timestamp']}")
    print(f"vwap pandas {vwap_pandas:.6f} polars {vwap_polars:.6f}")

    if args.follow:
        follow_ticks(args.symbol, args.follow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
