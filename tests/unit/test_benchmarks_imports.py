"""Benchmarks never import test code: they run from a checkout without tests/ mattering, and a
test helper changed for a test must not change a measured figure. What both need lives in
benchmarks/ (or the package); tests may import it from there."""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import imported_names

REPO = Path(__file__).resolve().parents[2]


def test_no_benchmark_imports_from_tests():
    offenders = []
    for path in sorted((REPO / "benchmarks").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        text = path.read_text(encoding="utf-8")
        if any(name.split(".")[0] == "tests" for name in names) or '"tests.' in text:
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"benchmarks importing or running test code: {', '.join(offenders)}"
