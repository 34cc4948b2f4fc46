"""Issue 13: uploads are saved only inside <data_dir>/uploads under generated names, an import job
reads only from there, and only files inside the exports directory are served (partitioned ones as
a zip of their files)."""

from __future__ import annotations

import io
import zipfile

import pytest

from tickdeck.core.downloads import resolve_export, unique_out, zip_directory
from tickdeck.core.errors import NotFound, PermissionDenied
from tickdeck.core.uploads import UploadError, check_upload_path, extension_for, save_upload


@pytest.mark.parametrize("name,ext", [("../../etc/passwd.csv", ".csv"), ("/abs/x.DBN.ZST", ".dbn.zst"),
                                      ("t.csv.gz", ".csv.gz"), ("..\\..\\w.parquet", ".parquet")])
def test_an_upload_keeps_only_a_known_extension_of_its_name(settings, name, ext):
    saved = save_upload(settings, io.BytesIO(b"x,y\n1,2\n"), name)
    assert saved.path.parent == (settings.data_dir / "uploads").resolve()
    assert saved.path.suffixes and "".join(saved.path.suffixes) == ext and len(saved.path.stem.split(".")[0]) == 24
    assert saved.path.read_bytes() == b"x,y\n1,2\n" and saved.bytes == 8


def test_an_upload_without_a_known_format_or_too_large_is_refused_and_leaves_nothing(settings):
    with pytest.raises(UploadError, match="cannot tell the format"):
        save_upload(settings, io.BytesIO(b"MZ"), "tool.exe")
    with pytest.raises(UploadError, match="larger than 4 bytes"):
        save_upload(settings, io.BytesIO(b"0123456789"), "a.csv", max_bytes=4)
    assert list((settings.data_dir / "uploads").iterdir()) == []
    assert extension_for("anything", "dbn") == ".dbn" and extension_for("x.csv.zst", "csv") == ".csv.zst"


def test_an_import_job_reads_only_uploads(ctx, tmp_path):
    from tickdeck.jobs.kinds import import_kind

    outside = tmp_path / "secret.csv"
    outside.write_text("timestamp,price,size\n")
    for path in (str(outside), "../../secret.csv", "uploads/../../secret.csv", ""):
        with pytest.raises(UploadError):
            import_kind(ctx, {"file": path, "symbol": "AAPL"}, progress=lambda p: None)
    link = ctx.settings.data_dir / "uploads" / "link.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    with pytest.raises(UploadError, match="reads only uploads"):
        check_upload_path(ctx.settings, "link.csv")


def test_only_exports_inside_the_exports_directory_are_served(settings, tmp_path):
    root = settings.exports_dir
    (root / "part" / "day=2024-07-01").mkdir(parents=True)
    (root / "part" / "day=2024-07-01" / "a.parquet").write_bytes(b"A" * 3_000_000)
    (root / "part" / "b.parquet").write_bytes(b"B")
    (tmp_path / "elsewhere.csv").write_text("x")
    assert resolve_export(settings, root / "part") == (root / "part").resolve()
    for bad in (tmp_path / "elsewhere.csv", root / ".." / ".." / "elsewhere.csv", root):
        with pytest.raises(PermissionDenied):
            resolve_export(settings, bad)
    with pytest.raises(NotFound):
        resolve_export(settings, root / "gone.parquet")
    assert unique_out(settings, root / "x.parquet").parent == root.resolve()

    zf = zipfile.ZipFile(io.BytesIO(b"".join(zip_directory(root / "part"))))
    assert {n: len(zf.read(n)) for n in zf.namelist()} == {"b.parquet": 1, "day=2024-07-01/a.parquet": 3_000_000}
