"""Issue 13: GET /api/v1/datasets (the home page's filters), /data/{symbol}/metadata and
/data/{symbol}/bars/{spec} over a real server on the collected demo data, compared with what core
answers in-process on the same store."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

DAY = "2024-07-02"


@pytest.fixture(scope="module")
def store_ctx(api_server):
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    ctx = Context.open(Settings(data_dir=api_server.data_dir))
    yield ctx
    ctx.close()


# -- datasets ---------------------------------------------------------------------------------------
def test_datasets_list_every_dataset_with_the_status_core_gives(api_server, store_ctx):
    """Issue 13: GET /datasets lists each dataset with its catalog summary and tickdeck.core.status's status."""
    from tickdeck.core.status import dataset_statuses

    with api_server.client("viewer") as c:
        body = c.get("/api/v1/datasets").json()
    assert body["total"] == 2 and [d["symbol"] for d in body["items"]] == ["AAPL", "MSFT"]
    for item, want in zip(body["items"], dataset_statuses(store_ctx)):
        assert item["status"]["state"] == want.state and item["status"]["label"] == want.label
        assert item["status"]["quality"] == (None if want.quality is None else pytest.approx(want.quality))
        assert item["days"] == 2 and item["first_day"] == "2024-07-01" and item["last_day"] == DAY


@pytest.mark.parametrize("params, symbols", [
    ({"search": "msf"}, ["MSFT"]),
    ({"search": "iqfeed"}, ["AAPL", "MSFT"]),
    ({"source": "nowhere"}, []),
    ({"covers_from": "2024-07-03"}, []),
    ({"covers_to": "2024-07-01"}, ["AAPL", "MSFT"]),
    ({"covers_from": "2024-06-01", "covers_to": "2024-06-30"}, []),
    ({"min_quality": 100.0}, None),  # whatever the home page's filter keeps
    ({"limit": 1, "offset": 1}, ["MSFT"]),
])
def test_datasets_filters_are_the_home_pages(api_server, store_ctx, params, symbols):
    """Issue 13: each filter keeps what tickdeck.core.datasets.filter_datasets (the home page's filter) keeps."""
    from tickdeck.core.datasets import DatasetFilter, filter_datasets

    flt = {k: v for k, v in params.items() if k not in ("limit", "offset")}
    want = [d.symbol for d in filter_datasets(store_ctx.catalog.datasets(), DatasetFilter(**flt))]
    if "offset" in params:
        want = want[params["offset"]:params["offset"] + params["limit"]]
    with api_server.client("viewer") as c:
        r = c.get("/api/v1/datasets", params=params)
    assert r.status_code == 200, r.text
    assert [d["symbol"] for d in r.json()["items"]] == want
    if symbols is not None:
        assert want == symbols


def test_datasets_refuse_a_reversed_coverage_range_and_a_bad_quality(api_server):
    """Issue 13: covers_to before covers_from, an out-of-scale quality or a bad date are 422 problems."""
    with api_server.client("viewer") as c:
        for params in ({"covers_from": "2024-07-02", "covers_to": "2024-07-01"}, {"min_quality": 101},
                       {"covers_from": "July 1"}):
            r = c.get("/api/v1/datasets", params=params)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text


def test_datasets_venue_is_the_exchange_and_vendor_the_stored_venue(api_server, store_ctx):
    """Issue 15: ``venue`` filters by the exchange the home cards and catalog show (XNAS, XNYS…), any
    case; ``vendor`` by the data vendor in the dataset's stored venue field."""
    from tickdeck.core.dataset_cards import exchange_of

    datasets = store_ctx.catalog.datasets()
    exchanges = {d.symbol: exchange_of(d) for d in datasets}
    vendors = {d.symbol: d.venue for d in datasets}
    assert set(exchanges.values()).isdisjoint(vendors.values())  # the two filters mean different things here
    with api_server.client("viewer") as c:
        def symbols(**params):
            r = c.get("/api/v1/datasets", params=params)
            assert r.status_code == 200, r.text
            return [d["symbol"] for d in r.json()["items"]]

        for ex in set(exchanges.values()):
            want = sorted(s for s, e in exchanges.items() if e == ex)
            assert symbols(venue=ex) == want and symbols(venue=ex.lower()) == want
            assert symbols(vendor=ex) == []  # an exchange is not a vendor
            assert symbols(search=ex.lower()) == want  # the text search finds the exchange too
        for vendor in set(vendors.values()):
            assert symbols(vendor=vendor) == sorted(s for s, v in vendors.items() if v == vendor)
            assert symbols(venue=vendor) == []  # the vendor is no longer what venue means


# -- metadata ---------------------------------------------------------------------------------------
def test_metadata_is_the_catalogs_rows_terms_and_bar_series(api_server, store_ctx):
    """Issue 13: GET /data/AAPL/metadata has the dataset row, its instrument terms, every day's tier-1 row
    (ns first/last trade times) and the stored bar series with their days and bar counts."""
    with api_server.client("viewer") as c:
        m = c.get("/api/v1/data/AAPL/metadata").json()
        one = c.get("/api/v1/data/AAPL/metadata", params={"start": DAY, "end": DAY}).json()
    rows = store_ctx.catalog.tick_days("AAPL")
    assert m["dataset"]["symbol"] == "AAPL" and m["dataset"]["ticks"] == sum(r.ticks for r in rows)
    assert [(d["day"], d["ticks"], d["first_ns"], d["last_ns"], d["vwap"]) for d in m["days"]] == [
        (r.day.isoformat(), r.ticks, r.first_ns, r.last_ns, r.vwap) for r in rows]
    assert m["terms"] == {"asset_class": "equity", "multiplier": 1.0, "size_decimals": 0, "lot_size": 100.0,
                          "tick_size": None}
    series = store_ctx.catalog.bar_series("AAPL")
    by_spec = {(s["family"], s["spec"]): s for s in m["bar_series"]}
    assert set(by_spec) == {(r.family, r.spec) for r in series}
    one_min = by_spec[("time", "time:1m")]
    assert one_min["days"] == 2 and one_min["bars"] == sum(r.bars for r in series if r.spec == "time:1m")
    assert [d["day"] for d in one["days"]] == [DAY]
    assert all(s["days"] == 1 and s["first_day"] == s["last_day"] == DAY for s in one["bar_series"])


def test_metadata_of_an_unknown_symbol_is_404(api_server):
    """Issue 13: an unknown symbol is a 404 problem naming it; a bad ticker a 422."""
    with api_server.client("viewer") as c:
        r = c.get("/api/v1/data/NOPE/metadata")
        bad = c.get("/api/v1/data/%3Cscript%3E/metadata")
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    assert bad.status_code == 422 and "ticker" in bad.json()["detail"]


# -- bars -------------------------------------------------------------------------------------------
def _bars_frame(body: dict) -> pd.DataFrame:
    df = pd.DataFrame(body["data"], columns=body["columns"])
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c], format="ISO8601", utc=True).dt.tz_convert("America/New_York")
    return df


def _core_bars(ctx, symbol, start, end, spec, session="all") -> pd.DataFrame:
    from tickdeck.core.bars import get_bars

    return get_bars(ctx, symbol, start, end, spec, session=session).reset_index().assign(symbol=symbol)


def assert_same_bars(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns) and len(got) == len(want) > 0
    for c in want.columns:
        if c in ("start", "end"):
            np.testing.assert_array_equal(pd.DatetimeIndex(got[c]).asi8, pd.DatetimeIndex(want[c]).asi8, err_msg=c)
        elif c == "symbol":
            assert got[c].astype(str).tolist() == want[c].tolist()
        else:
            np.testing.assert_array_equal(got[c].to_numpy(np.float64), want[c].to_numpy(np.float64), err_msg=c)


def test_stored_one_minute_bars_equal_core(api_server, store_ctx):
    """Issue 13: GET /bars/time:1m (stored) equals tickdeck.core.bars.get_bars in JSON and in Arrow IPC."""
    assert any(r.spec == "time:1m" for r in store_ctx.catalog.bar_series("AAPL", DAY))  # stored, not computed
    want = _core_bars(store_ctx, "AAPL", DAY, DAY, "time:1m")
    with api_server.client("viewer") as c:
        body = c.get("/api/v1/data/AAPL/bars/time:1m", params={"start": DAY}).json()
        arrow = c.get("/api/v1/data/AAPL/bars/time:1m", params={"start": DAY, "format": "arrow"})
    assert body["spec"] == "time:1m" and body["rows"] == len(want)
    assert_same_bars(_bars_frame(body), want)
    assert_same_bars(pa.ipc.open_stream(pa.py_buffer(arrow.content)).read_all().to_pandas(), want)


def test_a_spec_not_stored_is_computed_like_the_explorer(api_server, store_ctx):
    """Issue 13: a spec no series holds (tick:77, volume:2500:split regular session) is computed on demand
    and equals get_bars; parquet and csv carry the same rows."""
    stored_specs = {r.spec for r in store_ctx.catalog.bar_series("MSFT")}
    for spec, session in (("tick:77", "all"), ("volume:2500:split", "regular")):
        assert spec not in stored_specs
        want = _core_bars(store_ctx, "MSFT", "2024-07-01", DAY, spec, session)
        with api_server.client("viewer") as c:
            params = {"start": "2024-07-01", "end": DAY, "session": session}
            body = c.get(f"/api/v1/data/MSFT/bars/{spec}", params=params).json()
            parquet = c.get(f"/api/v1/data/MSFT/bars/{spec}", params={**params, "format": "parquet"})
            csv = c.get(f"/api/v1/data/MSFT/bars/{spec}", params={**params, "format": "csv"})
        assert_same_bars(_bars_frame(body), want)
        assert_same_bars(pq.read_table(io.BytesIO(parquet.content)).to_pandas(), want)
        back = pd.read_csv(io.BytesIO(csv.content), float_precision="round_trip")
        for c_ in ("start", "end"):
            back[c_] = pd.to_datetime(back[c_], utc=True)
        assert_same_bars(back, want)


def test_an_invalid_spec_is_422_listing_the_grammar(api_server):
    """Issue 13: an invalid spec is a 422 problem whose detail lists the families and the grammar."""
    with api_server.client("viewer") as c:
        for spec in ("time:7x", "candles:5", "tick:0"):
            r = c.get(f"/api/v1/data/AAPL/bars/{spec}")
            assert r.status_code == 422, (spec, r.text)
            detail = r.json()["detail"]
            assert spec in detail and "Grammar: FAMILY:PARAM" in detail and "heikin_ashi" in detail, detail
        missing = c.get("/api/v1/data/AAPL/bars/time:1m", params={"start": "2024-07-04"})
    assert missing.status_code == 404 and "2024-07-04" in missing.json()["detail"]
