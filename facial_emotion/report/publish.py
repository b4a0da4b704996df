"""Publish a finished pipeline run's results into the repository (e.g. `docs/results/fer2013/`).

    python -m facial_emotion.report.publish --run /path/to/finished/clone --to docs/results/fer2013

Copies the self-contained report page, the leaderboard, the champion and every metrics JSON, the
per-model pages when they fit the size limit, and writes a README.md naming the commit, the
command, the machine and each stage's wall time (from the MLflow run every stage makes). It copies
no data: the report's face galleries are rendered images, never pixel rows.
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..cli import run_main
from ..errors import PipelineError
from ..files import read_json
from .index import input_text

log = logging.getLogger("facial_emotion.publish")

PAGE_LIMIT_MB = 15.0
FILES = ("reports/index.html", "reports/leaderboard.json", "reports/champion.json", "reports/comparison.json",
         "reports/ingest_summary.json", "reports/split_summary.json", "reports/balance_summary.json")


class PublishError(PipelineError, ValueError):
    """A run folder that is not a finished pipeline run, or that ran on synthetic data."""


def stage_times(mlflow_db: Path) -> list[dict[str, Any]]:
    """Each stage's MLflow run: its DVC stage, start, wall minutes and training minutes (resumed runs
    count only the training time their snapshots carried, not the time they stood stopped)."""
    if not mlflow_db.exists():
        return []
    with sqlite3.connect(f"file:{mlflow_db}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT r.run_uuid, r.start_time, r.end_time, r.status, t.value FROM runs r "
            "JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'dvc_stage' ORDER BY r.start_time").fetchall()
        seconds = dict(db.execute("SELECT run_uuid, value FROM latest_metrics WHERE key = 'train_seconds'").fetchall())
    times = []
    for run_id, start, end, status, stage in rows:
        wall = (end - start) / 60000 if end and start else None
        times.append({"stage": stage, "status": status,
                      "started": datetime.fromtimestamp(start / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                      "wall_minutes": None if wall is None else round(wall, 1),
                      "train_minutes": round(seconds[run_id] / 60, 1) if run_id in seconds else None})
    return times


def machine() -> str:
    """CPU model and core count, as /proc/cpuinfo and the OS report them."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
        import os

        return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    return model


def copy_results(run: Path, target: Path) -> list[str]:
    """The report files into `target`; per-model pages only while they stay under the size limit."""
    copied = []
    for name in FILES:
        source = run / name
        if source.exists():
            (target / Path(name).name).write_bytes(source.read_bytes())
            copied.append(Path(name).name)
    metrics = run / "reports" / "metrics"
    if metrics.is_dir():
        shutil.copytree(metrics, target / "metrics", dirs_exist_ok=True)
        copied.append("metrics/")
    pages = run / "reports" / "html"
    if pages.is_dir():
        size = sum(f.stat().st_size for f in pages.rglob("*") if f.is_file()) / 1e6
        if size <= PAGE_LIMIT_MB:
            shutil.copytree(pages, target / "html", dirs_exist_ok=True)
            copied.append("html/")
        else:
            log.warning("per-model pages are %.1f MB, over %.0f MB: not copied", size, PAGE_LIMIT_MB)
    return copied


def readme(run: Path, summary: dict, leaderboard: dict, times: list[dict], command: str) -> str:
    commit = _git_commit(run)
    lines = [
        "# Results on real FER2013",
        "",
        "The pipeline's report on real FER2013: open [index.html](index.html). "
        f"Data: `{input_text(summary['input'])}`, "
        f"sha256 `{summary['sha256']}`, {summary['rows']:,} rows.",
        "",
        f"- commit: `{commit}`",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        "",
        "| model | validation accuracy | validation macro-F1 | test accuracy | test macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for row in leaderboard["models"]:
        v, t = row["validation"], row["test"]
        lines.append(f"| {row['model']} | {v['accuracy']:.4f} | {v['macro_f1']:.4f} "
                     f"| {t['accuracy']:.4f} | {t['macro_f1']:.4f} |")
    lines += ["", "Wall time per stage (each stage's MLflow run; training minutes exclude time stood stopped):", "",
              "| stage | started | wall minutes | training minutes | status |", "|---|---|---|---|---|"]
    for row in times:
        lines.append(f"| {row['stage']} | {row['started']} | {_num(row['wall_minutes'])} "
                     f"| {_num(row['train_minutes'])} | {row['status']} |")
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "-" if value is None else f"{value}"


def _git_commit(run: Path) -> str:
    import subprocess

    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=run, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def publish(run: Path, target: Path, command: str) -> Path:
    summary_path = run / "reports" / "ingest_summary.json"
    if not (run / "reports" / "index.html").exists() or not summary_path.exists():
        raise PublishError(f"{run}: no reports/index.html or reports/ingest_summary.json; run `dvc repro` there first")
    summary = read_json(summary_path)
    if summary.get("synthetic"):
        raise PublishError(f"{run}: the run used SYNTHETIC data ({summary.get('input')}); publish a real-data run")
    target.mkdir(parents=True, exist_ok=True)
    copied = copy_results(run, target)
    times = stage_times(run / "mlflow.db")
    leaderboard = read_json(run / "reports" / "leaderboard.json")
    (target / "README.md").write_text(readme(run, summary, leaderboard, times, command), encoding="utf-8")
    log.info("published %s into %s", ", ".join(copied), target)
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Publish a finished real-data pipeline run into docs/results/")
    parser.add_argument("--run", type=Path, required=True, help="the clone where `dvc repro` finished")
    parser.add_argument("--to", type=Path, default=Path("docs/results/fer2013"), help="target folder")
    parser.add_argument("--command", default="dvc repro", help="the command that produced the run (for the README)")
    args = parser.parse_args(argv)
    publish(args.run, args.to, args.command)


if __name__ == "__main__":
    run_main(main)
