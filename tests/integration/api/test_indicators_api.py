"""``/api/v1/indicators/*`` against a real server: 404 while nothing is stored, then, after
``tickdeck indicators build`` over the demo days, the stored series as JSON columns and Arrow with
the day, name, source, symbol, metric and window filters."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.ipc as ipc
import pytest

GROUPS = ("market-breadth", "options-flow", "derived-metrics")


@pytest.fixture(scope="module")
def built(api_server):
    with api_server.client("viewer") as c:
        before = {g: c.get(f"/api/v1/indicators/{g}") for g in GROUPS}
    api_server.cli("indicators", "build", "--start", api_server.days[0].isoformat(),
                   "--end", api_server.days[-1].isoformat())
    return before


def _stored(server, fn, *args, **kw):
    """What the store holds, read with core directly from the server's data dir."""
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=server.data_dir))
    try:
        return fn(ctx, *args, **kw)
    finally:
        ctx.close()


def _nan(values) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def test_groups_are_not_found_until_built(built):
    for g, r in built.items():
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"].startswith(f"no indicators stored for {g}")


def test_market_breadth_serves_the_stored_local_series_of_the_latest_day(api_server, built):
    from tickdeck.core.indicators.store import read_breadth

    last, first = (d.isoformat() for d in (api_server.days[-1], api_server.days[0]))
    with api_server.client("viewer") as c:
        body = c.get("/api/v1/indicators/market-breadth").json()
        picked = c.get("/api/v1/indicators/market-breadth",
                       params={"day": first, "names": "TICK.NASDAQ,TRIN.NASDAQ"}).json()
    want = _stored(api_server, read_breadth, last)
    assert (body["group"], body["day"], body["source"]) == ("market-breadth", last, "local")
    assert body["days"] == [d.isoformat() for d in api_server.days]
    assert body["names"] == list(want.columns) and body["rows"] == len(want) > 100
    assert list(body["columns"])[0] == "timestamp" and body["columns"]["timestamp"][0].endswith("-0400")
    for name in ("TICK.NASDAQ", "TRIN.ALL", "MCCLELLAN.ALL"):
        np.testing.assert_array_equal(_nan(body["columns"][name]), want[name].to_numpy())
    assert picked["day"] == first and picked["names"] == ["TICK.NASDAQ", "TRIN.NASDAQ"]
    assert set(picked["columns"]) == {"timestamp", "TICK.NASDAQ", "TRIN.NASDAQ"}


def test_missing_days_sources_and_names_are_404_problems(api_server, built):
    with api_server.client("viewer") as c:
        feed = c.get("/api/v1/indicators/market-breadth", params={"source": "feed"})
        day = c.get("/api/v1/indicators/market-breadth", params={"day": "2024-06-28"})
        name = c.get("/api/v1/indicators/market-breadth", params={"names": "NOPE.NYSE"})
        options = c.get("/api/v1/indicators/options-flow")
        bad = c.get("/api/v1/indicators/market-breadth", params={"source": "nope"})
    assert feed.status_code == 404 and "no indicators stored for BREADTH.FEED on 2024-07-02" in feed.json()["detail"]
    assert day.status_code == 404 and "no indicators stored for market-breadth on 2024-06-28" in day.json()["detail"]
    assert name.status_code == 404 and "no indicator NOPE.NYSE stored" in name.json()["detail"]
    assert options.status_code == 404 and options.json()["detail"].startswith("no indicators stored for options-flow")
    assert bad.status_code == 422


def test_derived_metrics_table_and_one_symbols_series(api_server, built):
    from tickdeck.core.indicators.derived import SERIES
    from tickdeck.core.indicators.store import read_derived

    with api_server.client("viewer") as c:
        table = c.get("/api/v1/indicators/derived-metrics").json()
        one = c.get("/api/v1/indicators/derived-metrics",
                    params={"symbol": "aapl", "metrics": "vpin,kyle_lambda", "window": "5min"}).json()
    assert table["columns"]["symbol"] == list(api_server.symbols) and table["symbols"] == list(api_server.symbols)
    assert table["names"] == ["at", *SERIES] and table["rows"] == len(api_server.symbols)
    want = _stored(api_server, read_derived, "AAPL", api_server.days[-1])
    for name in ("realized_vol.session", "vwap_dev_bps.1min"):
        assert _nan(table["columns"][name])[0] == pytest.approx(want[name].iloc[-1], nan_ok=True)
    assert one["symbol"] == "AAPL" and one["window"] == "5min" and one["names"] == ["kyle_lambda.5min", "vpin.5min"]
    np.testing.assert_array_equal(_nan(one["columns"]["vpin.5min"]), want["vpin.5min"].to_numpy())


def test_arrow_answer_holds_the_same_rows(api_server, built):
    with api_server.client("viewer") as c:
        r = c.get("/api/v1/indicators/market-breadth", params={"format": "arrow", "names": "TICK.ALL,TRIN.ALL"})
        j = c.get("/api/v1/indicators/market-breadth", params={"names": "TICK.ALL,TRIN.ALL"}).json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.apache.arrow.stream")
    t = ipc.open_stream(io.BytesIO(r.content)).read_all()
    assert t.column_names == ["timestamp", "TICK.ALL", "TRIN.ALL"] and t.num_rows == j["rows"]
    np.testing.assert_array_equal(t.column("TRIN.ALL").to_numpy(), _nan(j["columns"]["TRIN.ALL"]))


def test_indicators_need_a_key(api_server, built):
    with api_server.client(None) as c:
        assert c.get("/api/v1/indicators/market-breadth").status_code == 401
