"""The notebook runner: a real kernel, the failing-cell error, the kept partial notebook, offline HTML."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from facial_emotion.errors import PipelineError
from facial_emotion.notebooks import NotebookCellError, NotebookError, banner_html, figure_png, run_notebook

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook whose first code cell is the `parameters` cell."""
    cells = [new_markdown_cell("# Tiny report")]
    for i, source in enumerate(sources):
        cell = new_code_cell(source)
        if i == 0:
            cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    nbformat.write(notebook, str(path))
    return path


@pytest.mark.slow
def test_failing_cell_names_the_error_and_keeps_the_partial_notebook(tmp_path):
    template = write_notebook(tmp_path / "broken.ipynb", "x = 1", "print('before', x)",
                              "raise ValueError(f'boom {x}')", "print('never runs')")
    executed, html = tmp_path / "out" / "broken.ipynb", tmp_path / "out" / "broken.html"

    with pytest.raises(NotebookCellError) as caught:
        run_notebook(template, executed, html, {"x": 5})

    message = str(caught.value)
    assert isinstance(caught.value, PipelineError)
    assert "\n" not in message
    assert str(template) in message and "ValueError: boom 5" in message and "raise ValueError" in message
    assert str(executed) in message and caught.value.partial_notebook == executed
    kept = nbformat.read(str(executed), as_version=4)
    outputs = "".join(str(o.get("text", "")) for cell in kept.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "before 5" in outputs and "never runs" not in outputs
    assert not html.exists()
    assert sorted(p.name for p in executed.parent.iterdir()) == ["broken.ipynb"]  # no temp files left


@pytest.mark.slow
def test_cell_timeout_fails_with_one_line_and_keeps_the_partial_notebook(tmp_path):
    template = write_notebook(tmp_path / "slow.ipynb", "seconds = 60", "print('started')",
                              "import time\ntime.sleep(seconds)")
    executed = tmp_path / "slow_run.ipynb"

    with pytest.raises(NotebookError, match=r"slow\.ipynb: CellTimeoutError: .*timed out.*partly executed") as caught:
        run_notebook(template, executed, tmp_path / "slow.html", {}, cell_timeout_s=1)

    assert "\n" not in str(caught.value) and caught.value.partial_notebook == executed
    assert "started" in executed.read_text(encoding="utf-8")
    assert not (tmp_path / "slow.html").exists()


@pytest.mark.slow
def test_passing_notebook_gives_html_without_code_or_external_resources(tmp_path):
    template = write_notebook(
        tmp_path / "ok.ipynb",
        "greeting = 'default'",
        "SECRET_CODE_MARKER = 1\nprint(f'visible output: {greeting}')",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>rich output</b>'))",
    )
    executed, html = tmp_path / "ok_run.ipynb", tmp_path / "ok.html"

    run_notebook(template, executed, html, {"greeting": "hello"}, title="Tiny")

    page = html.read_text(encoding="utf-8")
    assert "visible output: hello" in page and "<b>rich output</b>" in page
    assert "SECRET_CODE_MARKER" not in page and "from IPython.display" not in page  # no code cells
    assert "<title>Tiny</title>" in page
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "mathjax" not in page.lower() and "require.js" not in page.lower()
    assert nbformat.read(str(executed), as_version=4).cells[-1].outputs


def test_unknown_kernel_is_a_one_line_error_before_anything_runs(tmp_path):
    template = write_notebook(tmp_path / "t.ipynb", "x = 1")
    with pytest.raises(NotebookError, match=r"kernel 'no-such-kernel-xyz' is not installed.*ipykernel install"):
        run_notebook(template, tmp_path / "o.ipynb", tmp_path / "o.html", {}, kernel_name="no-such-kernel-xyz")
    assert not (tmp_path / "o.ipynb").exists()


def test_missing_template_is_named(tmp_path):
    with pytest.raises(NotebookError, match=r"missing\.ipynb: notebook template not found"):
        run_notebook(tmp_path / "missing.ipynb", tmp_path / "o.ipynb", tmp_path / "o.html", {})


def test_banner_escapes_its_text():
    banner = banner_html("SYNTHETIC DATA", "<not> FER2013 & co")
    assert "SYNTHETIC DATA" in banner and "&lt;not&gt; FER2013 &amp; co" in banner


def test_figure_png_renders_without_pyplot():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    assert figure_png(fig).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("template", ["eda.ipynb", "classification_report.ipynb"])
def test_committed_templates_have_no_outputs_and_a_literal_parameters_cell(template):
    """papermill injects parameters after the tagged cell: it must hold plain literals only."""
    notebook = nbformat.read(str(REPO / "notebooks" / template), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    parameters = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1
    for node in ast.parse(parameters[0].source).body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), ast.dump(node)
