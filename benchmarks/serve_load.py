"""Load test of the web service on loopback: the documented command serving a model, 200 uploads
of a real photo 4 at a time, beside a sequential baseline (one at a time) in the same run.

    python benchmarks/serve_load.py                      # an untrained stand-in registered in a temp store
    python benchmarks/serve_load.py --model models:/facial-emotion@champion   # the real champion

Prints errors, p50 and p95 latency, throughput. Loopback only, bounded by --max-seconds.
Target: zero errors.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from tests.support.serve_local import QUIET_ENV, LocalServer  # noqa: E402
from tests.support.serve_standin import store_uri  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def astronaut_jpeg() -> bytes:
    import cv2
    from skimage import data

    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
    return encoded.tobytes()


def run_load(url: str, photo: bytes, requests: int, concurrency: int, deadline: float) -> dict:
    """`requests` uploads, `concurrency` at a time, each thread with its own keep-alive connection."""
    local = threading.local()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        if time.monotonic() > deadline:
            with lock:
                errors.append("not sent: --max-seconds reached")
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=30)
        start = time.perf_counter()
        try:
            response = client.post("/api/predict", files={"file": ("astronaut.jpg", photo, "image/jpeg")})
            ok = response.status_code == 200 and len(response.json()["faces"]) == 1
            problem = None if ok else f"{response.status_code}: {response.text[:120]}"
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - start) * 1e3
        with lock:
            if problem:
                errors.append(problem)
            else:
                latencies.append(elapsed)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        wait([pool.submit(one, i) for i in range(requests)])
    wall = time.perf_counter() - start
    return {"requests": requests, "concurrency": concurrency, "errors": len(errors), "first_errors": errors[:3],
            "p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
            "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
            "max_ms": max(latencies) if latencies else None,
            "per_second": len(latencies) / wall if wall > 0 else None, "seconds": wall}


def _line(name: str, r: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v:.1f} ms"
    return (f"{name:<22} {r['requests']:>4} requests x{r['concurrency']}: errors {r['errors']}, p50 {ms(r['p50_ms'])}, "
            f"p95 {ms(r['p95_ms'])}, max {ms(r['max_ms'])}, {r['per_second']:.1f} req/s in {r['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model URI to serve (default: a stand-in in a temp MLflow store)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--baseline-requests", type=int, default=50, help="sequential requests measured first")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long (default 300)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        env: dict[str, str] = {}
        server_args: list[str] = []
        if args.model:
            server_args = ["--model", args.model]
        else:
            store = Path(tmp) / "store"
            subprocess.run([sys.executable, "-m", "tests.support.serve_standin", "--store", str(store)], cwd=REPO,
                           env={**os.environ, **QUIET_ENV}, check=True, capture_output=True)
            env = {"MLFLOW_TRACKING_URI": store_uri(store), "MLFLOW_REGISTRY_URI": store_uri(store)}
        photo = astronaut_jpeg()
        with LocalServer(server_args, env=env, log_path=Path(tmp) / "server.log") as server:
            deadline = time.monotonic() + args.max_seconds
            run_load(server.url, photo, 5, 1, deadline)  # warm-up: first calls trace the model's graph
            baseline = run_load(server.url, photo, args.baseline_requests, 1, deadline)
            load = run_load(server.url, photo, args.requests, args.concurrency, deadline)
            health = httpx.get(server.url + "/health").json()
    model = health["model"]
    print(f"model {model['uri']} (version {model['version']}), astronaut photo {len(photo)} bytes, loopback, "
          f"{os.cpu_count()} CPUs")
    print(_line("baseline (sequential)", baseline))
    print(_line("load", load))
    for problem in load["first_errors"] + baseline["first_errors"]:
        print("  error:", problem)
    return 0 if load["errors"] == 0 and baseline["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
