"""No module of the package imports, directly or through others, a module that imports it back.

A circle works only while every import in it stays deferred or ordered just so; one moved line
then fails at import time, far from the change. The graph is static (`ast`, via
tests/support/import_graph.py): nothing is imported, and imports inside functions count.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import PACKAGE, cycles, module_graph

REPO = Path(__file__).resolve().parents[2]


def test_the_package_has_no_import_cycle():
    graph = module_graph(REPO)
    assert f"{PACKAGE}.faces.detect" in graph and f"{PACKAGE}.faces.yunet" in graph[f"{PACKAGE}.faces.detect"]
    found = cycles(graph)
    assert not found, "import cycles (move what both sides need into a module of its own):\n" + "\n".join(
        " <-> ".join(group) for group in found)


def test_a_cycle_is_found_however_it_is_written(tmp_path):
    files = {
        "__init__.py": "",
        "a.py": "from .b import thing\n",
        "b.py": "def thing():\n    from . import c\n",  # deferred: still a circle
        "c.py": f"import {PACKAGE}.a\n",
        "d.py": "from .a import x\n",  # imports into the circle, not part of it
        "sub/__init__.py": "from .e import y\n",
        "sub/e.py": "from . import z\n",  # names its own package explicitly: a circle with sub/__init__.py
        "lone.py": "from .sub.e import y\n",  # runs sub/__init__.py first: an edge, no circle
    }
    for name, source in files.items():
        (tmp_path / PACKAGE / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / PACKAGE / name).write_text(source)
    assert cycles(module_graph(tmp_path)) == [[f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.c"],
                                              [f"{PACKAGE}.sub", f"{PACKAGE}.sub.e"]]
    assert f"{PACKAGE}.sub" in module_graph(tmp_path)[f"{PACKAGE}.lone"]
