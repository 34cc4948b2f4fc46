"""core.deadletters browse / check / fix-and-replay (what the dead-letters page calls), on a real catalog and store."""

from __future__ import annotations

import pytest

from tickdeck.core import deadletters as dl
from tickdeck.core.errors import FeedError, NotFound

GOOD = "T000001,LH,2024-07-03 09:50:22.978464,163.41,63,537510,163.39,163.41,5010520000500,C,25,0117,0,3"
BAD = GOOD.replace("163.41,63", "163.41x,63")


def _letters(ctx):
    ctx.catalog.add_dead_letters([("iqfeed", "AAPL", BAD, "last: expected a price"),
                                  ("iqfeed", "MSFT", "T1,LH,2024-07-03 99:99:99,1,1", "ts: bad time"),
                                  ("csv", "AAPL", "x;y", "row 3: not enough columns")])
    return {r.raw: r.id for r in ctx.catalog.dead_letters(status=None)}


def test_reason_kind_is_the_refused_field():
    assert dl.reason_kind("last: expected a price") == "last"
    assert dl.reason_kind("last_sz: too many digits") == "last_sz"
    assert dl.reason_kind("row 3: not enough columns") == "not enough columns"
    assert dl.reason_kind("line 12: price: not a number") == "price"
    long = "DBN trade without a price (UNDEF_PRICE) in record 7"
    assert dl.reason_kind(long) == long[:dl.REASON_KIND_CHARS]
    assert dl.reason_kind("") == "(no reason)"


def test_browse_filters_by_source_symbol_reason_and_status_with_facets(ctx):
    _letters(ctx)
    rows, facets = dl.browse(ctx, dl.DeadLetterQuery(symbol="aapl"))
    assert {r.source for r in rows} == {"iqfeed", "csv"}
    assert [r.symbol for r in dl.browse(ctx, dl.DeadLetterQuery(source="iqfeed", reason="ts"))[0]] == ["MSFT"]
    assert [r.source for r in dl.browse(ctx, dl.DeadLetterQuery(reason="NOT ENOUGH"))[0]] == ["csv"]
    assert dl.browse(ctx, dl.DeadLetterQuery(status="replayed"))[0] == []
    assert facets.sources == {"csv": 1, "iqfeed": 2} and facets.symbols == {"AAPL": 2, "MSFT": 1}
    assert facets.reasons == {"last": 1, "not enough columns": 1, "ts": 1} and facets.statuses == {"new": 3}


def test_check_line_parses_like_replay_without_storing(ctx):
    with pytest.raises(FeedError, match="last"):
        dl.check_line("AAPL", BAD)
    c = dl.check_line("AAPL", GOOD)
    assert (c.symbol, c.ticks, c.days) == ("AAPL", 1, ("2024-07-03",)) and c.first["last"] == 163.41
    assert ctx.catalog.tick_days("AAPL") == []
    with pytest.raises(NotFound):
        dl.get(ctx, 999)


def test_fix_and_replay_stores_the_tick_marks_the_row_and_audits(ctx):
    ids = _letters(ctx)
    still_bad = dl.fix_and_replay(ctx, ids[BAD], BAD.replace("x", "y"), actor="ann")
    assert still_bad.replayed == () and still_bad.failed[0][1].startswith("last")
    assert dl.get(ctx, ids[BAD]).status == "failed"
    res = dl.fix_and_replay(ctx, ids[BAD], GOOD, actor="ann")
    assert res.replayed == (ids[BAD],) and res.days == (("AAPL", "2024-07-03"),)
    stored = ctx.store.read_day("AAPL", "2024-07-03", columns=["tick_id", "last"])
    assert stored["tick_id"].tolist() == [5010520000500] and stored["last"].tolist() == [163.41]
    row = dl.get(ctx, ids[BAD])
    assert row.status == "replayed" and row.raw == GOOD
    audit = [a for a in ctx.catalog.audit_log() if a.action == "deadletter.replay"]
    assert [(a.actor, a.target) for a in audit] == [("ann", str(ids[BAD]))] * 2
    with pytest.raises(NotFound):
        dl.fix_and_replay(ctx, 999, GOOD)
