"""Issue 13: exports and imports over a real server and its worker: POST /exports answers 202 with
its job; the download equals `tickdeck export` of the same request (a partitioned one as a zip of the
same files); POST /imports of a real recorded file stores its day, honouring replace; an upload's
name never chooses where it is written; each change audited with the key's name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
from api_ops import assert_audited_once, audit_rows, wait_job

REALDATA = Path(__file__).resolve().parents[3].parent / "shared" / "realdata"  # read-only real samples (README there)
BTC = REALDATA / "btcusdt-trades.parquet"  # Binance BTCUSDT trades, 8 Jan 2021 (NautilusTrader test data)


def _export(c, body: dict) -> dict:
    r = c.post("/api/v1/exports", json=body)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert r.headers["location"] == accepted["location"] == f"/api/v1/jobs/{accepted['job']['id']}"
    job = wait_job(c, accepted["location"])
    assert job["status"] == "succeeded", job
    return accepted


def test_an_export_job_serves_what_the_cli_exports(api_server, tmp_path):
    """Issue 13: 202 + Location; the finished file streams with its name; equal to the CLI's."""
    body = {"symbols": ["AAPL", "MSFT"], "start": "2024-07-01", "end": "2024-07-02", "format": "parquet",
            "session": "regular", "columns": ["last", "last_sz", "bid", "ask"]}
    with api_server.client("researcher") as c:
        accepted = _export(c, body)
        with c.stream("GET", accepted["download"]) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-disposition"].startswith("attachment; filename=")
            got = b"".join(r.iter_bytes())
    cli_out = tmp_path / "cli.parquet"
    api_server.cli("export", "--symbols", "AAPL,MSFT", "--start", "2024-07-01", "--end", "2024-07-02", "--format",
                   "parquet", "--session", "regular", "--columns", "last,last_sz,bid,ask", "--out", str(cli_out))
    want = cli_out.read_bytes()
    assert pq.read_table(io.BytesIO(got)).equals(pq.read_table(io.BytesIO(want)))
    assert got == want
    assert_audited_once(api_server, "export.create", who="researcher", symbols=["AAPL", "MSFT"])


def test_a_partitioned_export_downloads_as_a_zip_of_the_cli_files(api_server, tmp_path):
    """Issue 13: a hive-partitioned export (a directory) is served as a streamed zip of its files."""
    with api_server.client("researcher") as c:
        accepted = _export(c, {"symbols": ["MSFT"], "start": "2024-07-01", "end": "2024-07-02", "partition": True,
                               "spec": "time:5m"})
        r = c.get(accepted["download"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text[:300]
    cli_out = tmp_path / "cli"
    api_server.cli("export", "--symbols", "MSFT", "--start", "2024-07-01", "--end", "2024-07-02", "--partition",
                   "--spec", "time:5m", "--out", str(cli_out))
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    want = {p.relative_to(cli_out).as_posix(): p.read_bytes() for p in cli_out.rglob("*") if p.is_file()}
    assert len(want) == 2 and {n: zf.read(n) for n in zf.namelist()} == want


def test_export_requests_are_checked_before_queueing_and_downloads_only_serve_finished_exports(api_server):
    """Issue 13: bad spec/column/range are 422 (no job queued); a job that is not a finished export is
    not downloadable (404/409); viewers may not export (403)."""
    with api_server.client("researcher") as c:
        before = len(c.get("/api/v1/jobs", params={"kind": "export", "limit": 1000}).json())
        for body, text in (({"symbols": ["AAPL"], "start": "2024-07-01", "end": "2024-07-01", "spec": "time:xx"},
                            "time"),
                           ({"symbols": ["AAPL"], "start": "2024-07-01", "end": "2024-07-01", "columns": ["nope"]},
                            "nope"),
                           ({"symbols": ["AAPL"], "start": "2024-07-02", "end": "2024-07-01"}, "before start"),
                           ({"symbols": ["AAPL"], "start": "2024-07-01", "end": "2024-07-01", "out": "/tmp/x"},
                            "out")):
            r = c.post("/api/v1/exports", json=body)
            assert r.status_code == 422 and text in r.json()["detail"], (body, r.text)
        assert len(c.get("/api/v1/jobs", params={"kind": "export", "limit": 1000}).json()) == before
        other = c.post("/api/v1/quality/validate", json={"symbol": "AAPL", "start": "2024-07-01", "end": "2024-07-01"})
        assert other.status_code == 202, other.text  # a job that is not an export
        assert c.get(f"/api/v1/exports/{other.json()['job']['id']}/download").status_code == 404
        assert c.get("/api/v1/exports/99999/download").status_code == 404
    with api_server.client("viewer") as c:
        assert c.post("/api/v1/exports", json={"symbols": ["AAPL"], "start": "2024-07-01",
                                               "end": "2024-07-01"}).status_code == 403


def _import(c, path: Path, name: str | None = None, **form) -> dict:
    with open(path, "rb") as fh:
        r = c.post("/api/v1/imports", files={"file": (name or path.name, fh, "application/octet-stream")},
                   data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["location"]
    return wait_job(c, r.json()["location"])


def _btc_days(server):
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings

    catalog = Catalog(Settings(data_dir=server.data_dir).sql_url)
    try:
        return catalog.tick_days("BTCUSDT")
    finally:
        catalog.engine.dispose()


def test_an_uploaded_file_is_imported_by_a_job_honouring_replace(api_server):
    """Issue 13: a real recorded file's day is stored; importing it again as another source is refused
    (the job fails naming the day, the stored day stays) unless replace=true."""
    trades = pq.read_table(BTC).num_rows
    with api_server.client("researcher") as c:
        job = _import(c, BTC, symbol="BTCUSDT")
        assert job["status"] == "succeeded", job
        assert job["result"]["ticks"] == trades and job["result"]["days"][0]["day"] == "2021-01-08"
        (day,) = _btc_days(api_server)
        assert (day.ticks, str(day.day), day.source) == (trades, "2021-01-08", "import:parquet")

        job = _import(c, BTC, symbol="BTCUSDT", source="other")
        assert job["status"] == "failed" and "2021-01-08" in job["message"] and "replace=true" in job["message"]
        assert _btc_days(api_server)[0].source == "import:parquet"

        job = _import(c, BTC, symbol="BTCUSDT", source="other", replace=True)
        assert job["status"] == "succeeded", job
        assert _btc_days(api_server)[0].source == "import:other"
    assert len(audit_rows(api_server, "import.create")) == 3
    uploads = api_server.data_dir / "uploads"
    assert len(list(uploads.iterdir())) == 1  # the refused one stays for a retry; imported ones are removed


def test_an_upload_name_never_chooses_where_the_file_is_written(api_server):
    """Issue 13: ../ and absolute names land in <data_dir>/uploads under a generated name; the client's
    name only lends its extension; an unknown extension is a 422 and nothing is written."""
    outside = api_server.data_dir.parent
    with api_server.client("researcher") as c:
        for name in ("../../escaped.parquet", "/tmp/escaped-abs.parquet", "..\\..\\escaped-win.parquet"):
            before = set((api_server.data_dir / "uploads").glob("*")) if (api_server.data_dir / "uploads").exists() \
                else set()
            with open(BTC, "rb") as fh:
                r = c.post("/api/v1/imports", files={"file": (name, fh)}, data={"symbol": "BTCUSDT", "replace": "true"})
            assert r.status_code == 202, r.text
            saved = r.json()["job"]["params"]["file"]
            assert "/" not in saved and "\\" not in saved and saved.endswith(".parquet") and "escaped" not in saved
            assert {p.name for p in (api_server.data_dir / "uploads").glob("*")} - {p.name for p in before} == {saved}
            assert wait_job(c, r.json()["location"])["status"] == "succeeded"
        r = c.post("/api/v1/imports", files={"file": ("../x.exe", b"MZ")}, data={"symbol": "BTCUSDT"})
        assert r.status_code == 422 and "cannot tell the format" in r.json()["detail"]
    assert not list(outside.rglob("escaped*")) and not Path("/tmp/escaped-abs.parquet").exists()
    assert not [p for p in api_server.data_dir.rglob("*") if "escaped" in p.name]
