"""Shared fixtures: settings/context on temporary storage, and real-service fixtures.

Real services (PostgreSQL, Redis, Chromium) are used when reachable. When one is missing the
test is skipped with a message — except under ``CI=true``, where it fails.
Override the service locations with ``TICKDECK_TEST_PG_URL`` / ``TICKDECK_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services_needed import CI, free_port, missing_service  # noqa: E402,F401  (re-exported for fixtures)

PG_URL = os.environ.get("TICKDECK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TICKDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
# The servers and workers tests start (their environment is this one) run no market triggers: on the
# wall clock they would start live collection at 09:30 ET in whichever test runs then. The triggers are
# tested on simulated clocks (tests/unit/jobs/test_triggers.py, tests/integration/services/
# test_market_day.py); the nginx deployment test turns them on, on its demo feed's clock.
os.environ.setdefault("TICKDECK_MARKET_TRIGGERS", "0")


@pytest.fixture
def settings(tmp_path):
    from tickdeck.core.config import Settings

    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def ctx(settings):
    from tickdeck.core.context import Context

    c = Context.open(settings)
    yield c
    c.close()


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as c:
            schema = f"t_{uuid.uuid4().hex[:10]}"
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:  # noqa: BLE001
        missing_service(f"PostgreSQL at {PG_URL} ({type(e).__name__})")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


# A test that takes one of these fixtures needs the service: it carries the marker, so `-m "not redis"` (or a
# report by marker) sees every such test, and no module has to remember to mark itself.
SERVICE_MARKERS = {"pg_url": "postgres", "redis_url": "redis", "chromium_path": "browser", "s3_server": "s3"}


def pytest_collection_modifyitems(items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, mark in SERVICE_MARKERS.items():
            if fixture in names and item.get_closest_marker(mark) is None:
                item.add_marker(mark)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_url(request, tmp_path):
    """Parametrises a test over both SQL backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def catalog(sql_url):
    from tickdeck.core.catalog import Catalog

    c = Catalog(sql_url)
    yield c
    c.engine.dispose()


@pytest.fixture
def redis_url():
    try:
        import redis

        r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        r.ping()
        r.close()
    except Exception as e:  # noqa: BLE001
        missing_service(f"Redis at {REDIS_URL} ({type(e).__name__})")
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        missing_service("Debian chromium (run `make browser` as root)")
    return path


@pytest.fixture(scope="session")
def realdata():
    if not REALDATA.exists():
        missing_service(f"shared real-data files at {REALDATA}")
    return REALDATA


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The local S3 emulator (moto's server in its own process on a loopback port), one per session."""
    from s3_emulator import S3Emulator

    try:
        emu = S3Emulator(tmp_path_factory.mktemp("s3-emulator")).start()
    except Exception as e:  # noqa: BLE001
        missing_service(f"S3 emulator moto_server ({e})")
    yield emu
    emu.stop()


@pytest.fixture
def s3_store_uri(s3_server):
    """ArcticDB URI of a store in a fresh bucket of the S3 emulator, emptied afterwards."""
    uri = s3_server.store_uri()
    yield uri
    s3_server.drop(uri)


@pytest.fixture
def arctic_backend(request):
    """The ArcticDB backend of the test's store: ``lmdb`` unless a package parametrises it
    (``s3_emulator.parametrize_backends`` in its conftest's ``pytest_generate_tests``)."""
    return getattr(request, "param", "lmdb")


@pytest.fixture
def arctic_uri(arctic_backend, request):
    """The test's ArcticDB URI: empty for LMDB under the data dir (the default), else a fresh S3 bucket."""
    return request.getfixturevalue("s3_store_uri") if arctic_backend == "s3" else ""
