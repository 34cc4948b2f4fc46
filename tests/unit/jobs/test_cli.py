"""The jobs/worker/export/health/sql/backfill CLI verbs end to end on a temporary data dir."""

from __future__ import annotations

import json

import pytest

from tickdeck.app.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TICKDECK_FEED_PORT_HISTORY", "1")
    monkeypatch.setenv("TICKDECK_PIPELINE", "off")  # bars + validation belong to other tests; keep these fast
    return tmp_path / "data"


def test_jobs_start_worker_and_list_round_trip(env, capsys):
    assert main(["jobs", "start", "generate", "--param", "symbols=[\"AAPL\"]", "--param", "start=2024-07-01",
                 "--param", "end=2024-07-02", "--param", "ticks=200"]) == 0
    assert "queued job 1" in capsys.readouterr().out
    assert main(["worker", "--once"]) == 0
    assert "ran 1 job(s): 1 succeeded" in capsys.readouterr().out
    assert main(["jobs", "list", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert (job["kind"], job["status"], job["result"]["days"]) == ("generate", "succeeded", 2)


def test_jobs_retry_requires_a_failed_job_and_errors_are_one_line(env, capsys):
    main(["jobs", "start", "health"])
    capsys.readouterr()
    assert main(["jobs", "retry", "1"]) == 1
    assert capsys.readouterr().err.strip() == ("tickdeck: error: job 1 is pending; "
                                               "only failed, cancelled or interrupted jobs can be retried")
    assert main(["jobs", "retry", "--all-failed"]) == 0
    assert "re-queued 0 failed job(s)" in capsys.readouterr().out


def test_export_then_sql_over_the_export(env, capsys):
    main(["generate", "AAPL", "--start", "2024-07-01", "--end", "2024-07-01", "--ticks", "200"])
    capsys.readouterr()
    out = env / "exports" / "day.parquet"
    assert main(["export", "--symbols", "AAPL", "--start", "2024-07-01", "--end", "2024-07-01",
                 "--columns", "last,last_sz", "--out", str(out)]) == 0
    assert "exported" in capsys.readouterr().out and out.exists()
    assert main(["sql", "SELECT count(*) AS n FROM export_day", "--csv"]) == 0
    n = int(capsys.readouterr().out.splitlines()[1])
    assert main(["sql", "SELECT count(*) AS n FROM ticks('AAPL','2024-07-01','2024-07-01')", "--csv"]) == 0
    assert int(capsys.readouterr().out.splitlines()[1]) == n > 0


def test_health_json_reports_every_check(env, capsys):
    assert main(["health", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["status"] == "degraded"  # feed port 1 refuses
    assert {c["name"] for c in rep["checks"]} >= {"feed", "arcticdb", "sql", "disk"}


def test_backfill_queues_jobs_for_missing_days_from_each_datasets_source(env, capsys):
    """Issue 12: a synthetic dataset is backfilled by the generator, an imported one is skipped."""
    main(["generate", "AAPL", "--start", "2024-07-01", "--end", "2024-07-01", "--ticks", "200"])
    capsys.readouterr()
    assert main(["backfill", "AAPL", "MSFT", "--start", "2024-07-01", "--end", "2024-07-05"]) == 0
    out = capsys.readouterr().out
    assert "AAPL: 3 missing, 0 failing day(s) (2024-07-02, 2024-07-03, 2024-07-05) from synthetic" in out
    assert "queued 1 generate job(s)" in out and "1 collect job(s)" in out  # MSFT: no dataset yet -> IQFeed
    from tickdeck.app.wiring import open_context
    from tickdeck.core.backfill import plan_backfill, run_plan

    ctx = open_context()
    try:
        ctx.catalog.upsert_dataset("IMP", source="import:csv")
        assert main(["backfill", "IMP", "--start", "2024-07-01", "--end", "2024-07-01"]) == 0
        assert "IMP: 1 missing, 0 failing day(s) (2024-07-01); skipped: not collectable from a feed" in \
            capsys.readouterr().out
        assert run_plan(ctx, plan_backfill(ctx, "IMP", "2024-07-01", "2024-07-01")) == []
    finally:
        ctx.close()


def test_service_start_stop_and_status_record_requests_for_the_supervisor(env, capsys):
    """Issue 12: tickdeck service start|stop|status; without a running supervisor it says so."""
    assert main(["service", "status"]) == 0
    out = capsys.readouterr().out
    assert "live: stopped" in out and "no service supervisor is running" in out
    assert main(["service", "start", "live", "--symbols", "aapl,msft"]) == 0
    assert "service live: start requested" in capsys.readouterr().out
    assert main(["service", "status", "live", "--json"]) == 0
    (st,) = json.loads(capsys.readouterr().out)
    assert (st["desired"], st["state"], st["requested_by"], st["params"]) == (
        "running", "stopped", "cli", {"symbols": ["AAPL", "MSFT"]})
    assert st["text"].startswith("start requested; no supervisor is running")
    assert main(["service", "stop", "live"]) == 0
    assert "service live: stop requested" in capsys.readouterr().out
    assert main(["service", "start", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tickdeck: error: no service named 'nope'; services: ")
    assert {"live", "alerts"} <= set(err.split("services: ")[1].split(", "))


def test_worker_slots_come_from_the_flag_or_the_setting(env, capsys, monkeypatch):
    """Issue 12: tickdeck worker --slots N, default TICKDECK_WORKER_SLOTS (2); a bad value is one line."""
    assert main(["worker", "--once", "--slots", "3"]) == 0
    assert "with 3 slot(s)" in capsys.readouterr().out
    assert main(["worker", "--once"]) == 0
    assert "with 2 slot(s)" in capsys.readouterr().out
    monkeypatch.setenv("TICKDECK_WORKER_SLOTS", "0")
    assert main(["worker", "--once"]) == 1
    assert capsys.readouterr().err.strip() == "tickdeck: error: TICKDECK_WORKER_SLOTS: 0 slots is outside 1..64"


def _help(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


def test_sql_help_lists_the_table_functions(capsys):
    out = _help(capsys, ["sql", "--help"])
    for name in ("ticks('AAPL', '2024-07-01', '2024-07-05' [, 'regular'])", "bars('AAPL',", "days ", "export_<name>"):
        assert name in out


def test_jobs_start_help_lists_every_kind_and_an_unknown_kind_is_refused(capsys):
    from tickdeck.app.commands.jobs import KIND_HELP
    from tickdeck.jobs.kinds import KINDS
    from tickdeck.jobs.registry import KIND_NAMES

    assert set(KIND_HELP) == set(KIND_NAMES) == set(KINDS)
    out = _help(capsys, ["jobs", "start", "--help"])
    assert all(f"\n  {k} " in out for k in KIND_NAMES), out
    with pytest.raises(SystemExit):
        main(["jobs", "start", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_import_calendar_choices_are_the_calendars():
    from tickdeck.app.commands.import_ import CALENDAR_CHOICES
    from tickdeck.core.calendar import CALENDAR_NAMES

    assert CALENDAR_CHOICES == CALENDAR_NAMES


def test_only_the_verbs_module_builds_the_parser_and_top_level_help_lists_all(capsys):
    from tickdeck.app.cli import build_parser

    one = build_parser("restore-day")
    (sub,) = [a for a in one._actions if a.dest == "command"]
    assert list(sub.choices) == ["restore-day"]
    (sub,) = [a for a in build_parser("import")._actions if a.dest == "command"]
    assert list(sub.choices) == ["import"]
    out = _help(capsys, ["--help"])
    for verb in ("catalog", "import", "iqfeed-sim", "restore-day", "sql", "users"):
        assert verb in out


def test_users_remove_turns_auth_off_when_no_active_user_is_left(env, capsys):
    from tickdeck.core.catalog import Catalog
    from tickdeck.core.config import Settings
    from tickdeck.core.users import auth_enabled

    assert main(["users", "add", "ann", "--role", "admin", "--password", "correct-horse"]) == 0
    assert main(["users", "add", "bob", "--password", "correct-horse"]) == 0
    assert main(["keys", "create", "--user", "ann", "--name", "laptop"]) == 0
    capsys.readouterr()
    assert main(["users", "remove", "bob"]) == 0
    out = capsys.readouterr().out
    assert "removed bob" in out and "web login is off" not in out
    assert main(["users", "remove", "ann"]) == 0
    assert "no active user left: web login is off" in capsys.readouterr().out
    catalog = Catalog(Settings.from_env().sql_url)
    try:
        assert not auth_enabled(catalog)
    finally:
        catalog.engine.dispose()
    assert main(["users", "list"]) == 0
    assert "no users" in capsys.readouterr().out
    assert main(["users", "remove", "ann"]) == 1
    assert capsys.readouterr().err.strip() == "tickdeck: error: no user 'ann': see `tickdeck users list`"
