"""A local S3 emulator for the tests: moto's server on a loopback port, one bucket per store.

The server runs as a separate process (``moto_server``). ``moto.server.ThreadedMotoServer`` in the
test process deadlocks with ArcticDB: ArcticDB's S3 client waits for the reply while holding the
GIL, so the emulator's Python thread never gets to send it.

``S3Emulator.store_uri()`` creates a fresh bucket and returns ArcticDB's URI for it
(``s3://127.0.0.1:<bucket>?port=…&access=…&secret=…``: plain http, path-style addressing);
``drop(uri)`` deletes the bucket and everything in it (the emulator keeps objects in memory).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from services_needed import free_port

ACCESS, SECRET = "tickdeck-test", "tickdeck-test-secret"
START_WAIT_S = 30  # moto's server imports ~1 s of modules, longer on a loaded machine


def moto_server_path() -> str | None:
    """The ``moto_server`` executable of this interpreter's environment (moto[server]), or on PATH."""
    here = Path(sys.executable).with_name("moto_server")
    return str(here) if here.exists() else shutil.which("moto_server")


class S3Emulator:
    """One running moto server; ``start()`` raises ``RuntimeError`` when it cannot run."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._client = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Emulator":
        exe = moto_server_path()
        if exe is None:
            raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
        self.port = free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_dir / "moto_server.log", "wb")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        import boto3
        from botocore.config import Config

        self._client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS,
                                    aws_secret_access_key=SECRET, region_name="us-east-1",
                                    config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30))
        deadline = time.monotonic() + START_WAIT_S
        while True:  # wait on the condition (the server answers), not a fixed time
            try:
                self._client.list_buckets()
                return self
            except Exception as e:  # noqa: BLE001
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not answer on {self.endpoint}: {e}") from None
                time.sleep(0.05)

    def store_uri(self, bucket: str | None = None) -> str:
        """A new empty bucket and the ArcticDB URI of a store in it."""
        bucket = bucket or f"t-{uuid.uuid4().hex[:20]}"
        self._client.create_bucket(Bucket=bucket)
        return f"s3://127.0.0.1:{bucket}?port={self.port}&access={ACCESS}&secret={SECRET}"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess using the emulator through boto-style clients (not ArcticDB's URI)."""
        return {"AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_EC2_METADATA_DISABLED": "true"}

    def bucket_bytes(self, uri: str) -> int:
        """Bytes of every object in the bucket of ``uri`` (what the store holds, measured from outside)."""
        total = 0
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket_of(uri)):
            total += sum(o["Size"] for o in page.get("Contents", ()))
        return total

    def drop(self, uri: str) -> None:
        """Delete the bucket of ``uri`` and its objects (frees the emulator's memory)."""
        bucket = bucket_of(uri)
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
                if keys:
                    self._client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            self._client.delete_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - the server going away at the end of the session frees it all
            pass

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def bucket_of(uri: str) -> str:
    """The bucket named in an ArcticDB S3 URI ``s3://host:bucket?…``."""
    return urlsplit(uri).netloc.rsplit(":", 1)[-1]


def port_of(uri: str) -> int:
    return int(parse_qs(urlsplit(uri).query)["port"][0])




def both_backends(skip: frozenset[str] = frozenset()):
    """A store-suite package's ``pytest_generate_tests`` hook and ``settings`` fixture: every test of the package
    whose store comes from ``settings`` runs once on LMDB and once on S3 (marked ``s3``), except the tests named in
    ``skip`` (``<file name>`` or ``<file name>::<test name>``), which run on LMDB only. In the conftest::

        pytest_generate_tests, settings = both_backends()
    """
    import pytest

    def pytest_generate_tests(metafunc):
        name = metafunc.definition.path.name
        if "arctic_backend" in metafunc.fixturenames and not (
                name in skip or f"{name}::{metafunc.function.__name__}" in skip):
            metafunc.parametrize("arctic_backend", ["lmdb", pytest.param("s3", marks=pytest.mark.s3)], indirect=True)

    @pytest.fixture
    def settings(tmp_path, arctic_uri):
        from tickdeck.core.config import Settings

        return Settings(data_dir=tmp_path / "data", arctic_uri=arctic_uri)

    return pytest_generate_tests, settings
