"""The dead-letters page object without a browser: real catalog and store, the core calls it makes."""

from __future__ import annotations

from tickdeck.core.users import User

GOOD = "T000001,LH,2024-07-03 09:50:22.978464,163.41,63,537510,163.39,163.41,5010520000500,C,25,0117,0,3"
BAD = GOOD.replace("163.41,63", "163.41x,63")


def test_filter_inspect_check_and_replay_need_admin_and_store_the_tick(ctx):
    from tickdeck.pages.deadletters import DeadLettersPage

    ctx.catalog.add_dead_letters([("iqfeed", "AAPL", BAD, "last: expected a price"),
                                  ("iqfeed", "MSFT", "T1,LH,2024-07-03 99:99:99,1,1", "ts: bad time")])
    page = DeadLettersPage(ctx=ctx, user=User("viv", "viewer"))
    assert page.param.symbol.objects == ["(all)", "AAPL", "MSFT"] and page.param.reason.objects == ["(all)", "last",
                                                                                                     "ts"]
    page.reason = "ts"
    assert [r.symbol for r in page._rows] == ["MSFT"]
    page.reason = "(all)"
    page.symbol = "AAPL"
    [row] = page._rows
    page.selected = row.id
    assert page.line == BAD
    page.check()
    assert not page.ok and page.result.startswith("Still refused: last")
    page.line = GOOD
    page.check()
    assert page.ok and page.result.startswith("Parses: 1 tick(s) of AAPL on 2024-07-03, price 163.41")
    page.save_and_replay()  # a viewer: refused, nothing stored
    assert "needs the admin role" in page.last_error and ctx.catalog.tick_days("AAPL") == []
    page.user = User("ann", "admin")
    page.save_and_replay()
    assert page.last_error == "" and page.ok and page.result == f"Replayed dead letter {row.id} into AAPL 2024-07-03."
    assert ctx.store.read_day("AAPL", "2024-07-03", columns=["tick_id"])["tick_id"].tolist() == [5010520000500]
    assert [r.status for r in page._rows] == ["replayed"]  # the table re-read the catalog


def test_no_dead_letters_says_so(ctx):
    from tickdeck.pages.deadletters import DeadLettersPage

    layout = DeadLettersPage(ctx=ctx).__panel__()
    assert "No dead letters" in layout[1][0].object
