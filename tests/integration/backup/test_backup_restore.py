"""Backups and restores of a whole data directory: real ArcticDB (LMDB), SQLite and PostgreSQL,
a live collection from the IQFeed emulator writing while a backup runs."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from builders import store_synthetic
from tickdeck.core.backup import BackupError, BackupParams, backup, restore, rotate, run_backup
from tickdeck.core.config import Settings
from tickdeck.core.context import Context
from tickdeck.core.pipeline import install
from tickdeck.core.store import DayInfo
from tickdeck.core.users import add_user, authenticate
from waiting import wait_for

PASSWORD = "correct horse battery staple"
SYMBOLS = ("AAPL", "MSFT")


def _open(data_dir, **kw) -> Context:
    return Context.open(Settings(data_dir=data_dir, **kw))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A data directory with two symbols of two days each, their default bars and validation
    history (the real pipeline), and two users; backed up once."""
    root = tmp_path_factory.mktemp("backup")
    ctx = _open(root / "data")
    install(ctx)
    for i, sym in enumerate(SYMBOLS):
        store_synthetic(ctx, sym, "2024-07-01", "2024-07-01", seed=i, ticks=800)
    store_synthetic(ctx, "AAPL", "2024-07-01", "2024-07-01", seed=9, ticks=700)  # a replaced day: a kept version
    add_user(ctx.catalog, "alice", "researcher", PASSWORD, actor="test")
    add_user(ctx.catalog, "root", "admin", PASSWORD + "!", actor="test")
    man = backup(ctx, root / "bk")
    yield ctx, root, man
    ctx.close()


def _frames(ctx):
    out = {}
    for name in ctx.store.library_names():
        lib = ctx.store.library(name)
        for sym in lib.list_symbols():
            item = lib.read(sym)
            out[(name, sym)] = (item.data, item.metadata)
    return out


def _rows(engine, table, order):
    with engine.connect() as c:
        t = sa.Table(table, sa.MetaData(), autoload_with=engine)
        return [tuple(r) for r in c.execute(sa.select(t).order_by(*[t.c[o] for o in order]))]


def test_restore_brings_back_every_frame_the_catalog_and_the_logins(source, tmp_path):
    ctx, root, man = source
    assert {"ticks", "bars_time"} <= set(man.libraries) and len(man.libraries["ticks"]) == 2
    assert man.sql_tables["users"] == 2 and man.sql_tables["validation_results"] > 0

    rep = restore(Settings(data_dir=tmp_path / "new"), root / "bk")
    assert rep.symbols == man.symbols and rep.tick_days == 0  # the catalog agreed with the days
    new = _open(tmp_path / "new")
    try:
        before, after = _frames(ctx), _frames(new)
        assert before.keys() == after.keys()
        for key, (df, meta) in before.items():
            pd.testing.assert_frame_equal(after[key][0], df, check_freq=False)
            assert after[key][1] == meta, key
        for table, order in (("datasets", ["symbol"]), ("tick_days", ["symbol", "day"]),
                             ("bar_series", ["symbol", "day", "family", "spec"]), ("validation_results", ["id"]),
                             ("users", ["id"]), ("audit_log", ["id"])):
            assert _rows(new.catalog.engine, table, order) == _rows(ctx.catalog.engine, table, order), table
        assert authenticate(new.catalog, "alice", PASSWORD).role == "researcher"
        assert authenticate(new.catalog, "alice", "wrong password here") is None
        assert len(new.store.day_versions("AAPL", "2024-07-01")) == 1  # the current version only
    finally:
        new.close()


def test_restore_refuses_a_non_empty_target_and_writes_nothing(source, tmp_path):
    _, root, _ = source
    target = tmp_path / "used"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match="not empty"):
        restore(Settings(data_dir=target), root / "bk")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_restore_refuses_a_damaged_or_unfinished_backup(source, tmp_path):
    import shutil

    _, root, _ = source
    bad = tmp_path / "bad"
    shutil.copytree(root / "bk", bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["libraries"]["ticks"]["MSFT/2024-07-01"]["sha256"] = "0" * 64
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BackupError, match="does not match the manifest"):
        restore(Settings(data_dir=tmp_path / "r1"), bad)
    assert not (tmp_path / "r1").exists() or not any((tmp_path / "r1").iterdir())  # nothing half-restored
    (bad / "manifest.json").unlink()
    with pytest.raises(BackupError, match="did not finish"):
        restore(Settings(data_dir=tmp_path / "r2"), bad)


def test_backup_refuses_a_used_target(source, tmp_path):
    ctx, _, _ = source
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(BackupError, match="not an empty directory"):
        backup(ctx, tmp_path / "x")


@pytest.fixture
def second_pg_url(pg_url):
    """Another fresh schema beside ``pg_url``'s (the restore target), dropped afterwards."""
    import uuid

    base, schema = pg_url.rsplit("search_path%3D", 1)
    other = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{other}"'))
    yield f"{base}search_path%3D{other}"
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{other}" CASCADE'))
    engine.dispose()


def test_postgres_catalog_backs_up_and_restores_into_postgres(pg_url, second_pg_url, tmp_path):
    src = _open(tmp_path / "pg", sql_url=pg_url)
    try:
        store_synthetic(src, "SPY", "2024-07-01", "2024-07-01", ticks=500)
        add_user(src.catalog, "bob", "viewer", PASSWORD, actor="test")
        man = backup(src, tmp_path / "bk")
        assert man.sql_tables["users"] == 1
        days = _rows(src.catalog.engine, "tick_days", ["symbol", "day"])
        audit = _rows(src.catalog.engine, "audit_log", ["id"])
        frame = src.store.read_day("SPY", "2024-07-01")
    finally:
        src.close()
    restore(Settings(data_dir=tmp_path / "new", sql_url=second_pg_url), tmp_path / "bk")
    new = _open(tmp_path / "new", sql_url=second_pg_url)
    try:
        assert _rows(new.catalog.engine, "tick_days", ["symbol", "day"]) == days
        assert _rows(new.catalog.engine, "audit_log", ["id"]) == audit
        assert authenticate(new.catalog, "bob", PASSWORD) is not None
        add_user(new.catalog, "carol", "viewer", PASSWORD, actor="test")  # ids continue after the restored rows
        pd.testing.assert_frame_equal(new.store.read_day("SPY", "2024-07-01"), frame)
    finally:
        new.close()
    with pytest.raises(BackupError, match="already holds data"):
        restore(Settings(data_dir=tmp_path / "again", sql_url=second_pg_url), tmp_path / "bk")


def test_rotation_keeps_the_newest_per_day_week_and_month(tmp_path):
    ctx = _open(tmp_path / "small")  # an empty data directory: each backup takes a moment
    try:
        t0 = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.timezone.utc)
        params = BackupParams.parse({"root": str(tmp_path / "rot"), "keep_daily": 2, "keep_weekly": 1,
                                     "keep_monthly": 2})
        runs = [run_backup(ctx, params, now=t0 - dt.timedelta(days=d)) for d in (40, 3, 1, 0)]
    finally:
        ctx.close()
    names = [r.path.rsplit("/", 1)[-1] for r in runs]
    # daily: 30 and 29 Nov; weekly: the newest of this ISO week (30 Nov); monthly: Nov (30) and Oct (21)
    assert sorted(p.name for p in (tmp_path / "rot").iterdir()) == sorted([names[0], names[2], names[3]])
    assert runs[-2].deleted == () and runs[-1].deleted == (names[1],)  # 27 Nov: surplus once 30 Nov came
    kept, gone = rotate(tmp_path / "rot", daily=1, weekly=0, monthly=0, dry_run=True)
    assert kept == [names[3]] and sorted(gone) == sorted([names[0], names[2]])
    (tmp_path / "rot" / "mine").mkdir()  # not a backup's name: never touched
    rotate(tmp_path / "rot", daily=0, weekly=0, monthly=0)
    assert [p.name for p in (tmp_path / "rot").iterdir()] == ["mine"]
    with pytest.raises(BackupError, match="exactly one"):
        BackupParams.parse({"to": "a", "root": "b"})


def test_the_backup_job_writes_a_rotated_backup(tmp_path):
    from tickdeck.jobs.queue import JobQueue
    from tickdeck.jobs.runner import run_job

    ctx = _open(tmp_path / "small")
    try:
        q = JobQueue(ctx.catalog.engine, ctx.bus)
        q.submit("backup", {"root": str(tmp_path / "rot"), "keep_daily": 3}, requested_by="test")
        rec = run_job(ctx, q, q.claim("w1"), "w1")
        assert rec.status == "succeeded" and rec.result["deleted"] == []
        assert (tmp_path / "rot" / rec.result["path"].rsplit("/", 1)[-1] / "manifest.json").is_file()
        q.submit("backup", {"root": str(tmp_path / "rot"), "keep_dayly": 3}, requested_by="test")
        bad = run_job(ctx, q, q.claim("w1"), "w1")
        assert bad.status == "failed" and "unknown key 'keep_dayly'" in bad.error
    finally:
        ctx.close()


def test_cli_backup_then_restore(tmp_path, monkeypatch, capsys):
    from tickdeck.app.cli import main

    ctx = _open(tmp_path / "small")  # a user and nothing else: the verbs, not the copy, are tested here
    add_user(ctx.catalog, "dora", "viewer", PASSWORD, actor="test")
    ctx.close()
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "small"))
    assert main(["backup", "--to", str(tmp_path / "cli-bk")]) == 0
    assert "backed up" in capsys.readouterr().out
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "restored"))
    assert main(["restore", "--from", str(tmp_path / "cli-bk")]) == 0
    assert "restored" in capsys.readouterr().out
    new = _open(tmp_path / "restored")
    try:
        assert authenticate(new.catalog, "dora", PASSWORD) is not None
    finally:
        new.close()
    assert main(["restore", "--from", str(tmp_path / "cli-bk")]) == 1  # now it is not empty
    assert "not empty" in capsys.readouterr().err
    from tickdeck.app.cli import _command_modules, _module_of

    mods = _command_modules()  # restore and restore-day stay two verbs
    assert (_module_of("restore", mods), _module_of("restore-day", mods)) == ("restore", "restore_day")


@pytest.fixture
def emulator():
    from tickdeck.core.sources.iqfeed_emulator import EmulatorThread, IQFeedEmulator

    th = EmulatorThread(IQFeedEmulator(symbols=SYMBOLS, now="2024-07-03 10:00:00", speed=30, ticks=20000,
                                       port_history=0, port_l1=0))
    yield th.__enter__()
    th.__exit__(None, None, None)


def test_a_backup_during_live_collection_holds_whole_committed_days(tmp_path, emulator):
    from tickdeck.core.live import collect_live

    emu = emulator
    ctx = _open(tmp_path / "data")
    stop = threading.Event()
    out: dict = {}
    runner = threading.Thread(target=lambda: out.update(s=collect_live(
        ctx, list(SYMBOLS), stop_event=stop, port_history=emu.port_history, port_l1=emu.port_l1, batch_seconds=0.2,
        flush_after=0.2,
        finalize=False)), daemon=True)
    runner.start()
    try:
        wait_for(lambda: all(ctx.store.has_day(s, "2024-07-03") for s in SYMBOLS), "both live days stored")
        mans = []
        for i in range(2):  # two backups while the materialiser keeps appending
            start = {s: ctx.store.day_info(s, "2024-07-03").ticks for s in SYMBOLS}
            mans.append(backup(ctx, tmp_path / f"bk{i}"))
            wait_for(lambda st=start: any(ctx.store.day_info(s, "2024-07-03").ticks > st[s] for s in SYMBOLS),
                     "ticks appended after the backup")
    finally:
        stop.set()
        runner.join(60)
    final = {s: ctx.store.read_day(s, "2024-07-03") for s in SYMBOLS}
    ctx.close()
    for i, man in enumerate(mans):
        restore(Settings(data_dir=tmp_path / f"r{i}"), tmp_path / f"bk{i}")
        back = _open(tmp_path / f"r{i}")
        try:
            shorter = []
            for s in SYMBOLS:
                df = back.store.read_day(s, "2024-07-03")
                info = DayInfo.from_meta(back.store.ticks.read_metadata(f"{s}/2024-07-03").metadata)
                assert 0 < len(df) == info.ticks == man.libraries["ticks"][f"{s}/2024-07-03"]["rows"]
                # a committed version of the day: exactly the first rows of the finished day
                pd.testing.assert_frame_equal(df, final[s].iloc[:len(df)], check_freq=False)
                assert back.catalog.tick_days(s)[0].ticks == len(df)  # the catalog row follows the data
                shorter.append(len(df) < len(final[s]))
            assert any(shorter)  # the backup was taken mid-collection
        finally:
            back.close()
