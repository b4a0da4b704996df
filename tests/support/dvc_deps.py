"""Each stage's code dependencies in dvc.yaml, derived from what it imports, one file at a time, so
that `dvc repro` reruns a stage only when a module it runs changed.

Two refinements on the bare import graph (import_graph.py):
- Package data files (a model's weights, a page template, static files) are dependencies of the
  stages that import a module of their package: every non-Python file of that package folder and of
  its plain subfolders (`weights/`, `templates/`, `static/`), documentation files left out.
- Modules that cannot change what a stage writes, only whether it runs and what it says when it
  does not, are not dependencies: rewording an error must not rerun 5 hours of training. They are
  listed in RUN_CONTROL with the reason, and may import only each other (the test checks it), so
  none of them can reach code that computes an output.

    python -m tests.support.dvc_deps            # lists what dvc.yaml lacks or has too much, exit 1 if any
    python -m tests.support.dvc_deps --write    # rewrites the facial_emotion/ deps of every stage
    python -m tests.support.dvc_deps --reruns facial_emotion/lifeline.py   # the stages a change reruns
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from .import_graph import package_files

PACKAGE = "facial_emotion"
RUN_CONTROL = {
    "facial_emotion/errors.py": "exception types and the pending-stop flag: whether a stage ends, not what it writes",
    "facial_emotion/lifeline.py": "ends a stage when the dvc that started it ends",
    "facial_emotion/preflight.py": "fails a stage at once when an output folder cannot be written",
    "facial_emotion/params/messages.py": "turns a rejected params.yaml into one line; runs only when the stage stops",
}
DOC_FILES = re.compile(r"(\.md|\.txt|\.rst)$|^LICENSE", re.IGNORECASE)


def data_files(root: Path, modules: set[Path]) -> set[Path]:
    """The non-Python files of the package folders that hold the given modules (subpackages left to
    their own modules)."""
    found: set[Path] = set()
    for folder in {m.parent for m in modules}:
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or DOC_FILES.search(path.name):
                continue
            between = list(path.relative_to(folder).parents)[:-1]  # weights/x.onnx -> [weights]
            if not any((folder / sub / "__init__.py").exists() for sub in between):
                found.add(path)
    return found


def stage_entry_points(root: Path, stage: dict) -> list[Path]:
    """The stage's module (from `python -m stages.<name>`) and the notebooks it executes."""
    match = re.match(r"python -m (stages\.\w+)", stage["cmd"])
    if not match:
        raise ValueError(f"{stage['cmd']!r}: a stage runs `python -m stages.<name>`")
    module = root / (match.group(1).replace(".", "/") + ".py")
    return [module, *(root / d for d in stage["deps"] if str(d).endswith(".ipynb"))]


def code_deps(root: Path, stage: dict) -> list[str]:
    """The package files a stage's run depends on, as dvc.yaml lists them (sorted, relative)."""
    modules = package_files(root, stage_entry_points(root, stage))
    files = {p.relative_to(root).as_posix() for p in modules | data_files(root, modules)}
    return sorted(files - set(RUN_CONTROL))


def listed(stage: dict) -> list[str]:
    return [d for d in stage["deps"] if str(d).startswith(PACKAGE + "/")]


def problems(root: Path) -> dict[str, tuple[list[str], list[str]]]:
    """For each stage whose dvc.yaml deps differ from its derived ones: (missing, extra)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, stage in stages.items():
        want, have = code_deps(root, stage), listed(stage)
        missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
        if missing or extra:
            out[name] = (missing, extra)
    return out


def rewrite(root: Path) -> list[str]:
    """Replace every stage's facial_emotion/ deps in dvc.yaml by the derived ones (comments and the
    order of the other deps kept). Returns the names of the stages that changed."""
    text = (root / "dvc.yaml").read_text()
    stages = yaml.safe_load(text)["stages"]
    lines, out, changed = text.splitlines(keepends=True), [], []
    stage, in_deps, written = None, False, False
    for line in lines:
        top = re.match(r"^  (\w[\w-]*):\s*$", line)
        if top:
            stage, in_deps, written = top.group(1), False, False
        elif re.match(r"^    deps:\s*$", line):
            in_deps = True
        elif in_deps and not line.startswith("      "):
            in_deps = False
        dep = re.match(rf"^      - ({PACKAGE}/\S*)\s*$", line) if in_deps else None
        if dep:
            if not written:
                want = code_deps(root, stages[stage])
                out += [f"      - {d}\n" for d in want]
                written = True
                if want != listed(stages[stage]):
                    changed.append(stage)
            continue
        out.append(line)
    (root / "dvc.yaml").write_text("".join(out))
    return changed


def reruns(root: Path, changed_file: str) -> list[str]:
    """The stages whose dvc.yaml deps cover the file (a listed file, or a listed folder above it)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return [name for name, stage in stages.items()
            if any(changed_file == d or changed_file.startswith(str(d).rstrip("/") + "/") for d in stage["deps"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite dvc.yaml's facial_emotion/ deps")
    parser.add_argument("--reruns", nargs="+", metavar="FILE", help="the stages a change to each file reruns")
    args = parser.parse_args(argv)
    root = Path.cwd().resolve()
    if args.reruns:
        for file in args.reruns:
            print(f"{file}: {', '.join(reruns(root, file)) or '(none)'}")
        return 0
    if args.write:
        print("rewrote the deps of: " + (", ".join(rewrite(root)) or "(none)"))
        return 0
    found = problems(root)
    for name, (missing, extra) in found.items():
        print(f"{name}: missing {missing or '-'}; not imported {extra or '-'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
