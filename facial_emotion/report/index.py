"""reports/index.html: one self-contained page with every result of a run, rendered from a Jinja2 template.

Self-contained means it opens offline and from an e-mail attachment: CSS inline, every image a data
URI, no scripts, no fonts or icons fetched; links only point at the sibling pages (EDA, one page per
model) that the pipeline writes beside it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..evaluation.label_scores import by_label_set
from ..evaluation.metrics import HEADLINE
from ..files import write_text
from ..labels import LABEL_SOURCES, classes_for
from ..paths import DEMO_DIR, EDA_DIR, INDEX_HTML, MODEL_PAGES_DIR, REPORTS_DIR
from ..notebooks import figure_png
from . import figures
from .analysis import per_class_f1
from .data_source import is_synthetic, synthetic_banner
from .inputs import ReportError, load_metrics, load_optional_json
from .params_diff import Baseline, changed_params

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "index.html.j2"
OTHER_SET_METRICS = ("accuracy", "macro_f1")  # shown for the label sets a run was not trained on
# each label set's name on pages and tables
LABEL_SET_TITLES = {"fer2013": "FER2013 labels", "ferplus": "FER+ majority labels"}
METRIC_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
                 "weighted_f1": "weighted F1"}


@dataclass(frozen=True)
class ReportPaths:
    """Where the index page's inputs are, relative to the working directory (the repo root)."""

    reports: Path = REPORTS_DIR
    index: Path = INDEX_HTML
    model_pages: Path = MODEL_PAGES_DIR  # <model>.html, linked from the index
    eda_page: Path = EDA_DIR / "eda.html"
    demo_dir: Path = DEMO_DIR  # the demo's crop grid, shown when it exists at report time

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics"

    def json(self, name: str) -> Path:
        return self.reports / f"{name}.json"


def model_order(paths: ReportPaths) -> tuple[str, list[str]]:
    """The selection metric and every model with a metrics file, best on validation first.

    The leaderboard JSON gives the order; a model it lacks or lists without a metrics file means
    the two were written by different runs.
    """
    leaderboard = load_optional_json(paths.json("leaderboard"))
    if leaderboard is None:
        raise ReportError(f"{paths.json('leaderboard')}: not found; run dvc repro evaluate")
    select_by, rows = leaderboard.get("select_by"), leaderboard.get("models")
    if select_by not in HEADLINE:
        raise ReportError(f"{paths.json('leaderboard')}: select_by is {select_by!r}, "
                          f"expected one of {', '.join(HEADLINE)}")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("model"), str) for r in rows):
        raise ReportError(f"{paths.json('leaderboard')}: 'models' must be a list of objects with a 'model' name")
    ranked = [r["model"] for r in rows]
    on_disk = sorted(p.stem for p in paths.metrics.glob("*.json"))
    if not on_disk:
        raise ReportError(f"{paths.metrics}: no metrics files; run dvc repro evaluate")
    if sorted(ranked) != on_disk:
        odd = sorted(set(ranked) ^ set(on_disk))
        raise ReportError(f"{paths.json('leaderboard')}: models differ from {paths.metrics}/*.json ({', '.join(odd)}); "
                          "the files are out of step, run dvc repro evaluate")
    return select_by, ranked


def build_context(paths: ReportPaths, params: dict[str, Any], baseline: Baseline, git_commit: str,
                  built_at: datetime | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (the template only lays them out)."""
    select_by, models = model_order(paths)
    metrics = {name: load_metrics(paths.metrics / f"{name}.json") for name in models}
    ingest = load_optional_json(paths.json("ingest_summary"))
    split = load_optional_json(paths.json("split_summary")) or {}
    champion = load_optional_json(paths.json("champion"))
    comparison = load_optional_json(paths.json("comparison"))
    synthetic = is_synthetic(ingest, split.get("source") or (champion or {}).get("data_source"))

    primary = (load_optional_json(paths.json("leaderboard")) or {}).get("labels", "fer2013")
    if primary not in LABEL_SOURCES:
        raise ReportError(f"{paths.json('leaderboard')}: labels is {primary!r}, "
                          f"expected one of {', '.join(LABEL_SOURCES)}")
    classes = classes_for(primary)
    grouped = {name: by_label_set(metrics[name], primary) for name in models}
    # The other label sets every model was also scored on (FER+ majority beside FER2013's labels, or back).
    others = [s for s in LABEL_SOURCES if s != primary and all("test" in grouped[n].get(s, {}) for n in models)]
    pages_dir = paths.model_pages
    leaderboard = [{
        "rank": rank, "model": name, "champion": bool(champion and champion.get("name") == name),
        "page": _relative_link(pages_dir / f"{name}.html", paths.index),
        "validation": {k: metrics[name]["validation"][k] for k in HEADLINE},
        "test": {k: metrics[name]["test"][k] for k in HEADLINE},
        "others": {s: {k: grouped[name][s]["test"][k] for k in OTHER_SET_METRICS} for s in others},
    } for rank, name in enumerate(sorted(models, key=lambda n: -metrics[n]["validation"][select_by]), start=1)]
    best = {split_name: {k: max(row[split_name][k] for row in leaderboard) for k in HEADLINE}
            for split_name in ("validation", "test")}
    best_others = {s: {k: max(row["others"][s][k] for row in leaderboard) for k in OTHER_SET_METRICS} for s in others}
    ordered = [row["model"] for row in leaderboard]
    f1 = {s: np.array([per_class_f1(metrics[m][s], classes) for m in ordered]) for s in ("validation", "test")}

    return {
        "title": "Facial emotion recognition: results",
        "synthetic": synthetic,
        "synthetic_banner": Markup(synthetic_banner()) if synthetic else None,
        "data": _data_facts(ingest, split),
        "git_commit": git_commit,
        "built_at": (built_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        "baseline": baseline.description,
        "baseline_available": baseline.params is not None,
        "param_changes": changed_params(params, baseline.params) if baseline.params is not None else [],
        "select_by": select_by,
        "headline": HEADLINE,
        "labels": {k: METRIC_LABELS.get(k, k.replace("_", " ")) for k in HEADLINE},
        "leaderboard": leaderboard,
        "best": best,
        "label_set": primary,
        "label_set_names": LABEL_SET_TITLES,
        "other_sets": others,
        "other_metrics": OTHER_SET_METRICS,
        "best_others": best_others,
        "champion": champion,
        "comparison": comparison,
        "emotions": classes,
        "f1_rows": [{"model": m, "test": dict(zip(classes, f1["test"][i])), "page": leaderboard[i]["page"]}
                    for i, m in enumerate(ordered)],
        "f1_best": {e: float(np.nanmax(f1["test"][:, c])) for c, e in enumerate(classes)} if ordered else {},
        "f1_figure": _png_uri(figures.f1_heatmap(ordered, f1, classes)),
        "eda_page": _relative_link(paths.eda_page, paths.index),
        "demo_grid": _demo_grid(paths.demo_dir),
    }


def render_index(context: dict[str, Any]) -> str:
    """The page's HTML (autoescaped: model names and params can hold anything)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value, digits=3: "n/a" if value is None or value != value else f"{value:.{digits}f}"
    env.filters["pct"] = lambda value: "n/a" if value is None else f"{100 * value:.1f} %"
    return env.get_template(TEMPLATE).render(**context)


def write_index(paths: ReportPaths, context: dict[str, Any]) -> Path:
    write_text(paths.index, render_index(context))
    return paths.index


def _data_facts(ingest: dict[str, Any] | None, split: dict[str, Any]) -> dict[str, Any]:
    ingest = ingest or {}
    sizes = split.get("sizes") or {}
    return {
        "source": ingest.get("source") or split.get("source") or "unknown",
        "input": input_text(ingest.get("input")),
        "sha256": ingest.get("sha256"),
        "rows": ingest.get("rows"),
        "strategy": split.get("strategy"),
        "sizes": {k: sizes[k] for k in ("train", "val", "test") if k in sizes},
    }


def input_text(value: Any) -> str | None:
    """The ingest summary's input: a path string (older summaries) or {path, member} (an archive's member)."""
    if isinstance(value, dict):
        return f"{value.get('path')}:{value['member']}" if value.get("member") else value.get("path")
    return value


def _relative_link(target: Path, index: Path) -> str | None:
    """`target` as a link from the index page's folder, or None when the file does not exist."""
    if not target.is_file():
        return None
    try:
        return target.resolve().relative_to(index.resolve().parent).as_posix()
    except ValueError:
        return target.resolve().as_uri()


def _demo_grid(demo_dir: Path) -> str | None:
    grids = sorted(demo_dir.glob("*grid*.png")) if demo_dir.is_dir() else []
    if not grids:
        return None
    return "data:image/png;base64," + base64.b64encode(grids[0].read_bytes()).decode("ascii")


def _png_uri(fig: Any) -> str:
    return "data:image/png;base64," + base64.b64encode(figure_png(fig, dpi=110)).decode("ascii")
