"""Which files of the `facial_emotion` package a stage runs: the static import graph, followed from
`stages/<name>.py` (and the notebook templates it executes) through every `import` statement,
including those inside functions, plus the `__init__.py` of every package on the way; and the
package's own module graph, where an import cycle shows.

    python -m tests.support.import_graph stages/train.py   # prints the files, one a line
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

PACKAGE = "facial_emotion"


def module_file(root: Path, name: str) -> Path | None:
    """`facial_emotion.models.store` -> facial_emotion/models/store.py (or the package's __init__.py)."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Dotted names a module's source imports (relative imports resolved against `module`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return names


def notebook_source(path: Path) -> str:
    """A notebook's code cells as one Python source (IPython magics and shell lines left out)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines += [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def package_files(root: Path, entry_points: list[Path]) -> set[Path]:
    """Every file of the package that the entry points (stage modules, notebooks) import, transitively."""
    seen: set[Path] = set()
    todo: list[tuple[str, str, bool]] = []
    for entry in entry_points:
        source = notebook_source(entry) if entry.suffix == ".ipynb" else entry.read_text(encoding="utf-8")
        todo.append((source, _module_name(root, entry) if entry.suffix == ".py" else "__notebook__", False))
    while todo:
        source, module, is_package = todo.pop()
        for name in imported_names(source, module, is_package):
            if name.split(".")[0] != PACKAGE:
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
                path = module_file(root, ".".join(parts[:i]))
                if path is not None and path not in seen:
                    seen.add(path)
                    todo.append((path.read_text(encoding="utf-8"), _module_name(root, path),
                                 path.name == "__init__.py"))
    return seen


def module_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package -> the package modules it imports, by dotted name, from imports
    anywhere in its source (inside functions too: a deferred import still closes a circle).

    Importing `a.b.c` also runs `a/b/__init__.py`, an edge too, except to the importer's own
    packages: Python runs those before the importer starts. Naming one explicitly
    (`from . import X`) is an edge like any other."""
    graph: dict[str, set[str]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        module = _module_name(root, path)
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        edges: set[str] = set()
        for name in imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            parts = name.split(".")
            if parts[0] != PACKAGE:
                continue
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                ran_first = i < len(parts) and target in own  # an own package, run implicitly
                if target != module and not ran_first and module_file(root, target) is not None:
                    edges.add(target)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: each group of modules that reach one another (a strongly connected
    component of more than one module, or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative: no recursion limit on a deep graph
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


if __name__ == "__main__":
    repo = Path.cwd().resolve()
    for file in sorted(package_files(repo, [repo / arg for arg in sys.argv[1:]])):
        print(file.relative_to(repo))
