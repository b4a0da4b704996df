"""`python -m stages.ingest` as DVC runs it: Kaggle's tarball in data/raw/ is read in place and named;
anything that is not a dataset ends in one line and exit 1, before MLflow is touched."""

from __future__ import annotations

import json

from tests.unit.test_ingest_layouts import fer_csv, write_tar

from .pipeline import copy_worktree, run_stage_module


def test_stage_reads_the_tarball_and_names_its_member(tmp_path, tracking_uri) -> None:
    root = tmp_path / "repo"
    copy_worktree(root)
    tarball = write_tar(root / "data" / "raw" / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv(),
                                                                  "fer2013/README": b"readme\n"})
    result = run_stage_module(root, "ingest", tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((root / "reports" / "ingest_summary.json").read_text())
    assert summary["source"] == "csv" and summary["synthetic"] is False and summary["rows"] == 21
    assert summary["input"]["path"] == "data/raw/fer2013.tar.gz"
    assert summary["input"]["member"] == "fer2013/fer2013.csv"
    assert summary["passed_over"] == [{"path": "data/raw/fer2013.tar.gz:fer2013/README",
                                       "reason": "not a FER2013 file: not a CSV, an archive "
                                                 "or a train/ or test/ folder"}]
    assert "reading FER2013 CSV (emotion,pixels,Usage) in the tar archive data/raw/fer2013.tar.gz, member " \
           "fer2013/fer2013.csv" in result.stderr
    assert "passed over data/raw/fer2013.tar.gz:fer2013/README" in result.stderr
    assert sorted(p.name for p in tarball.parent.iterdir()) == [".gitkeep", "README.md", "fer2013.tar.gz"]


def test_stage_on_junk_is_one_line_and_exit_1(tmp_path, tracking_uri) -> None:
    root = tmp_path / "repo"
    copy_worktree(root)
    (root / "data" / "raw" / "notes.txt").write_text("where do I get the data?\n")
    (root / "data" / "raw" / "test.csv").write_text("pixels\n\"1 2 3\"\n")
    summary = root / "reports" / "ingest_summary.json"
    before = summary.read_bytes() if summary.exists() else None
    result = run_stage_module(root, "ingest", tracking_uri)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("error: data/raw: no FER2013 here. Found: data/raw/notes.txt (not a FER2013 file")
    assert "data/raw/test.csv (no emotion column" in lines[0]
    assert (summary.read_bytes() if summary.exists() else None) == before, "no output may be rewritten"
    assert not (root / "data" / "interim").exists()
