"""Issue 13: GET /api/v1/catalog over a real server: the Catalog page's tree (tickdeck.core.catalog_tree) —
venue → instrument → ticks and bar families/specs with counts and coverage. The module's server also
runs the scenario replay API check (tests/integration/replay/api_checks.py), which writes nothing:
one server start for both."""

from __future__ import annotations

from tests.integration.replay.api_checks import check_replay_controls_over_the_api


def test_catalog_is_the_tree_the_catalog_page_draws(api_server):
    """Issue 13: venues, instruments (days, ticks, first/last day) and each stored bar spec's days and bars
    equal core.catalog_tree.catalog_tree on the same catalog; totals add up."""
    from tickdeck.core.catalog_tree import catalog_tree
    from tickdeck.core.config import Settings
    from tickdeck.core.context import Context

    with api_server.client("viewer") as c:
        r = c.get("/api/v1/catalog")
        anonymous = api_server.client(None).get("/api/v1/catalog")
    assert r.status_code == 200, r.text
    body = r.json()
    ctx = Context.open(Settings(data_dir=api_server.data_dir))
    try:
        want = catalog_tree(ctx)
        rows = ctx.catalog.tick_days()
        bar_rows = ctx.catalog.bar_series("AAPL")
    finally:
        ctx.close()
    assert [v["venue"] for v in body["venues"]] == [v.venue for v in want]
    got = {(i["symbol"], i["days"], i["ticks"], i["first_day"], i["last_day"])
           for v in body["venues"] for i in v["instruments"]}
    assert got == {(i.symbol, i.days, i.ticks, i.first_day.isoformat(), i.last_day.isoformat())
                   for v in want for i in v.instruments}
    assert body["instruments"] == 2 and body["ticks"] == sum(r.ticks for r in rows)
    aapl = next(i for v in body["venues"] for i in v["instruments"] if i["symbol"] == "AAPL")
    specs = {(f["family"], s["spec"]): (s["days"], s["bars"]) for f in aapl["bars"] for s in f["specs"]}
    assert specs[("time", "time:1m")] == (2, sum(r.bars for r in bar_rows if r.spec == "time:1m"))
    assert len(specs) == len({(r.family, r.spec) for r in bar_rows})
    assert anonymous.status_code == 401


def test_replay_controls_over_the_api_and_the_ticks_on_the_stream(api_server):
    """Issue 16 item 2: play, pause, seek, speed and stop over the API, the replayed ticks on /ws."""
    check_replay_controls_over_the_api(api_server)
