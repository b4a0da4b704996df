"""Screenshots of `mlflow ui` for docs/tracking.md: a CNN's training run (its dataset inputs) and
its logged model (the scores the evaluate stage linked to it, each with its dataset), in headless
Chromium (Debian's /usr/bin/chromium, `make browser`).

    python scripts/mlflow_screenshots.py mlflow.db docs/images   # after `make repro`
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1440, "height": 1000}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pages(uri: str, model_name: str) -> dict[str, str]:
    """Screenshot name -> UI route: the model's latest training run with dataset inputs, its logged model."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("facial-emotion")
    if experiment is None:
        raise SystemExit(f"error: {uri} holds no facial-emotion experiment: run `make repro` first")
    runs = [r for r in client.search_runs([experiment.experiment_id], f"tags.model_name = '{model_name}'",
                                          order_by=["attributes.start_time DESC"], max_results=50)
            if r.inputs and r.inputs.dataset_inputs]
    if not runs:
        raise SystemExit(f"error: no {model_name} training run with dataset inputs in {uri}")
    run = runs[0]
    model = next((m for m in client.search_logged_models([experiment.experiment_id], max_results=200)
                  if m.source_run_id == run.info.run_id), None)
    if model is None:
        raise SystemExit(f"error: run {run.info.run_id} logged no model")
    base = f"#/experiments/{experiment.experiment_id}"
    return {"mlflow-run-datasets": f"{base}/runs/{run.info.run_id}",
            "mlflow-model-metrics": f"{base}/models/{model.model_id}"}


def _wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"error: mlflow ui did not answer at {url} within {timeout:.0f} s") from None
            time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="the SQLite MLflow store (mlflow.db)")
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--model", default="cnn-smote-elu", help="the trained model to show (cnn-smote-elu)")
    args = parser.parse_args(argv)
    if not args.store.is_file():
        raise SystemExit(f"error: {args.store}: no such MLflow store")
    uri = f"sqlite:///{args.store.resolve()}"
    pages = _pages(uri, args.model)
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri", uri,
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/health")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport=VIEWPORT)
            for name, route in pages.items():
                page.goto(f"{base}/{route}")
                page.get_by_text("Datasets", exact=False).first.wait_for(timeout=60_000)
                assistant = page.get_by_text("MLflow Assistant")
                if assistant.count():
                    page.mouse.click(VIEWPORT["width"] - 36, 35)  # its close button, top right: it hides half the page
                if name == "mlflow-model-metrics":
                    page.get_by_placeholder("Search metrics").fill("macro_f1")
                time.sleep(3)
                args.out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out / f"{name}.png"))
                print(args.out / f"{name}.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
