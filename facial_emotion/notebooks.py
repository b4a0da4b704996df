"""Run a papermill template into an executed notebook plus a self-contained HTML report.

Why one module: the EDA stage and the per-model report notebooks need the same things, namely a
kernel from this environment, a one-line error naming the failing cell, the partly executed
notebook kept for debugging, and HTML without code that opens offline (no CDN scripts).

Kernel: `python3` is ipykernel's own kernelspec, installed into the venv by `pip install ipykernel`
(`<venv>/share/jupyter/kernels/python3`, argv `python -m ipykernel_launcher`). Jupyter prefers a
venv's kernelspecs over user-level ones, and jupyter_client swaps a bare `python` for the running
interpreter, so `python3` runs in the same venv as the stage. `python -m ipykernel install
--sys-prefix` (re)creates that kernelspec if it was removed.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .files import atomic_path, write_text

log = logging.getLogger(__name__)

DEFAULT_KERNEL = "python3"

# nbconvert's `lab` template, minus everything that loads from a CDN (require.js, MathJax,
# Mermaid, widgets): the reports hold no math, diagrams or widgets, and must open offline.
_OFFLINE_TEMPLATE_NAME = "facial_emotion_offline.html.j2"
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_ANSI = re.compile("\x1b\\[(K|.*?m)")


class NotebookError(PipelineError, RuntimeError):
    """A notebook could not be run: missing template, unknown kernel, dead kernel, timeout.

    `partial_notebook` is the partly executed notebook this run left for debugging, if any.
    """

    def __init__(self, message: str, partial_notebook: Path | None = None) -> None:
        super().__init__(message)
        self.partial_notebook = partial_notebook


class NotebookCellError(NotebookError):
    """A cell raised; the message names the notebook, the cell and its error."""


def check_kernel(kernel_name: str) -> str:
    """The interpreter the kernel will run; NotebookError when the kernel is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise NotebookError(
            f"Jupyter kernel '{kernel_name}' is not installed for {sys.executable}; "
            f"install ipykernel in this environment or run `{sys.executable} -m ipykernel install --sys-prefix`"
        ) from None
    interpreter = spec.argv[0] if spec.argv else ""
    if interpreter in {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}:
        return sys.executable  # jupyter_client substitutes the running interpreter
    if os.path.abspath(interpreter) != os.path.abspath(sys.executable):
        log.warning("kernel '%s' runs %s, not this environment's %s: the notebook may not import the project",
                    kernel_name, interpreter, sys.executable)
    return interpreter


def run_notebook(
    template: str | Path,
    executed_path: str | Path,
    html_path: str | Path,
    parameters: dict[str, Any],
    kernel_name: str = DEFAULT_KERNEL,
    cwd: str | Path | None = None,
    cell_timeout_s: int | None = None,
    title: str | None = None,
) -> None:
    """Execute `template` with `parameters`, write the executed notebook, then its HTML.

    The executed notebook is renamed into place whether or not a cell fails (so the failure can be
    inspected); the HTML is written only after a successful run. `cwd` is the kernel's working
    directory (default: the current one), which must let the notebook import the project.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    template, executed_path, html_path = Path(template), Path(executed_path), Path(html_path)
    if not template.is_file():
        raise NotebookError(f"{template}: notebook template not found")
    interpreter = check_kernel(kernel_name)
    log.info("running %s with kernel %s (%s) -> %s", template, kernel_name, interpreter, executed_path)

    failure: NotebookError | None = None
    with atomic_path(executed_path) as tmp:
        try:
            papermill.execute_notebook(
                str(template),
                str(tmp),
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=str(cwd) if cwd is not None else None,
                progress_bar=False,
                execution_timeout=cell_timeout_s,
                config=_kernel_config(),
            )
        except PapermillExecutionError as exc:
            failure = NotebookCellError(_cell_error_message(template, exc, executed_path), executed_path)
        except Exception as exc:  # noqa: BLE001 - dead kernel, timeout, kernel start failure
            if not tmp.exists() or tmp.stat().st_size == 0:
                raise NotebookError(f"{template}: {type(exc).__name__}: {_first_line(str(exc))}") from exc
            failure = NotebookError(
                f"{template}: {type(exc).__name__}: {_first_line(str(exc))} "
                f"(partly executed notebook kept in {executed_path})",
                executed_path,
            )
    if failure is not None:
        raise failure
    write_text(html_path, notebook_html(executed_path, title or template.stem))
    log.info("wrote %s and %s", executed_path, html_path)


def _kernel_config() -> Any:
    """Encrypt the kernel's local TCP traffic when pyzmq can (ipykernel warns about plain TCP)."""
    import zmq
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto" if zmq.has("curve") else "disabled"}})


def notebook_html(notebook_path: str | Path, title: str) -> str:
    """Self-contained HTML of an executed notebook: outputs only, images inline, no CDN scripts."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_OFFLINE_TEMPLATE_NAME: _OFFLINE_TEMPLATE})],
        template_file=_OFFLINE_TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    notebook = nbformat.read(str(notebook_path), as_version=4)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body


def _cell_error_message(template: Path, exc: Any, executed_path: Path) -> str:
    cell = f"[{exc.exec_count}]" if exc.exec_count is not None else f"#{exc.cell_index}"
    first = next((line.strip() for line in str(exc.source).splitlines() if line.strip()), "")
    code = f" `{first[:60]}{'...' if len(first) > 60 else ''}`" if first else ""
    evalue = _first_line(_ANSI.sub("", str(exc.evalue)))
    error = f"{exc.ename}: {evalue}" if evalue else exc.ename
    return f"{template}: cell {cell}{code} raised {error} (partly executed notebook kept in {executed_path})"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


# Helpers used inside the notebooks themselves.


def banner_html(title: str, detail: str = "", colour: str = "#b00020") -> str:
    """A full-width coloured banner (e.g. SYNTHETIC DATA) nobody can miss at the top of a report."""
    detail_style = "font-size:18px;font-weight:normal;margin-top:8px"
    detail_html = f'<div style="{detail_style}">{html.escape(detail)}</div>' if detail else ""
    return (
        f'<div role="alert" style="background:{colour};color:#fff;padding:24px 28px;margin:8px 0 16px 0;'
        f'border-radius:6px;font-family:sans-serif;font-size:34px;font-weight:bold;text-align:center;'
        f'letter-spacing:1px">{html.escape(title)}{detail_html}</div>'
    )


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib Figure, rendered with Agg whatever backend the kernel has."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def show_figure(fig: Any, alt: str, dpi: int = 100) -> None:
    """Display a Figure as an inline PNG with alt text, embedded so the HTML stays self-contained.

    An <img> in an HTML output rather than an image/png output: nbconvert gives the latter no alt text.
    """
    from IPython.display import HTML, display

    src = "data:image/png;base64," + base64.b64encode(figure_png(fig, dpi)).decode("ascii")
    display(HTML(f'<img src="{src}" alt="{html.escape(alt, quote=True)}" style="max-width:100%;height:auto">'))
