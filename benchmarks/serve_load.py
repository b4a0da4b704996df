"""Load test of the web service on loopback: the documented command serving a model, 200 uploads
of a real photo 4 at a time, beside a sequential baseline (one at a time) in the same run; then
the same load again while hostile clients attack: bodies sent a byte a second (slowloris),
decompression-bomb PNGs (7000x7000 plain pixels, about 150 KB, about 150 MB decoded) and
oversized headers.

    python benchmarks/serve_load.py                      # an untrained stand-in registered in a temp store
    python benchmarks/serve_load.py --model models:/facial-emotion@champion   # the real champion
    python benchmarks/serve_load.py --slow-clients 0 --bombers 0 --header-clients 0   # no attack phase

Prints the normal clients' success rate, p50 and p95 latency and throughput without and with the
attack, what the attackers got back, and the server's peak memory in each phase. Loopback only,
bounded by --max-seconds. Target: zero errors for normal clients in both phases.
"""

from __future__ import annotations

import argparse
import os
import socket
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

from benchmarks.support.serve_local import LOOPBACK, QUIET_ENV, LocalServer  # noqa: E402
from benchmarks.support.serve_standin import store_uri  # noqa: E402

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


def bomb_png() -> bytes:
    """7000x7000 plain pixels: a small file, a 147 MB decode."""
    import cv2

    ok, encoded = cv2.imencode(".png", np.zeros((7000, 7000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return encoded.tobytes()


class Attack:
    """Hostile clients in threads until `stop()`: each kind counts what the server answered."""

    def __init__(self, port: int, slow_clients: int, bombers: int, header_clients: int) -> None:
        self.port = port
        self.outcomes: dict[str, dict[str, int]] = {"slow body": {}, "bomb": {}, "big header": {}}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._bomb = bomb_png() if bombers else b""
        self._threads = ([threading.Thread(target=self._slow_body, daemon=True) for _ in range(slow_clients)]
                         + [threading.Thread(target=self._bombs, daemon=True) for _ in range(bombers)]
                         + [threading.Thread(target=self._big_headers, daemon=True) for _ in range(header_clients)])

    def __enter__(self) -> Attack:
        for i, thread in enumerate(self._threads):
            thread.start()
            time.sleep(0.05 if i < 64 else 0)  # opened 0.05 s apart, as a slowloris ramps up
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _count(self, kind: str, outcome: str) -> None:
        with self._lock:
            self.outcomes[kind][outcome] = self.outcomes[kind].get(outcome, 0) + 1

    def _status(self, sock: socket.socket) -> str:
        data = sock.recv(256)
        return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "closed"

    def _slow_body(self) -> None:
        """Headers at once, then one byte a second, reconnecting whenever cut."""
        while not self._stop.is_set():
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                    sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                 b"Content-Length: 1000000\r\n\r\n\xff")
                    while not self._stop.is_set():
                        try:
                            self._count("slow body", self._status(sock))
                            break
                        except TimeoutError:
                            sock.sendall(b"\0")
            except OSError as exc:
                self._count("slow body", type(exc).__name__)
                self._stop.wait(0.5)

    def _bombs(self) -> None:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{self.port}", timeout=60) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/api/predict", content=self._bomb, headers={"Content-Type": "image/png"})
                    self._count("bomb", str(response.status_code))
                except httpx.HTTPError as exc:
                    self._count("bomb", type(exc).__name__)

    def _big_headers(self) -> None:
        padding = "a" * 256 * 1024
        while not self._stop.is_set():
            try:
                response = httpx.get(f"http://{LOOPBACK}:{self.port}/health", headers={"X-Padding": padding},
                                     timeout=10)
                self._count("big header", str(response.status_code))
            except httpx.HTTPError as exc:
                self._count("big header", type(exc).__name__)
            self._stop.wait(0.2)


class PeakMemory:
    """The server process's peak resident memory while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self.process.memory_info().rss / 2**20)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _line(name: str, r: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v:.1f} ms"
    success = 100 * (r["requests"] - r["errors"]) / r["requests"] if r["requests"] else 0.0
    return (f"{name:<22} {r['requests']:>4} requests x{r['concurrency']}: success {success:.1f} % "
            f"(errors {r['errors']}), p50 {ms(r['p50_ms'])}, p95 {ms(r['p95_ms'])}, max {ms(r['max_ms'])}, "
            f"{r['per_second']:.1f} req/s in {r['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model URI to serve (default: a stand-in in a temp MLflow store)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--baseline-requests", type=int, default=50, help="sequential requests measured first")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long (default 300)")
    parser.add_argument("--slow-clients", type=int, default=64, help="attack: bodies sent a byte a second")
    parser.add_argument("--bombers", type=int, default=4, help="attack: clients sending 7000x7000 PNGs back to back")
    parser.add_argument("--header-clients", type=int, default=2, help="attack: clients sending 256 KB headers")
    args = parser.parse_args(argv)
    attack = args.slow_clients + args.bombers + args.header_clients > 0

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        env: dict[str, str] = {}
        server_args: list[str] = []
        if args.model:
            server_args = ["--model", args.model]
        else:
            store = Path(tmp) / "store"
            subprocess.run([sys.executable, "-m", "benchmarks.support.serve_standin", "--store", str(store)], cwd=REPO,
                           env={**os.environ, **QUIET_ENV}, check=True, capture_output=True)
            env = {"MLFLOW_TRACKING_URI": store_uri(store), "MLFLOW_REGISTRY_URI": store_uri(store)}
        photo = astronaut_jpeg()
        with LocalServer(server_args, env=env, log_path=Path(tmp) / "server.log") as server:
            deadline = time.monotonic() + args.max_seconds
            run_load(server.url, photo, 5, 1, deadline)  # warm-up: first calls trace the model's graph
            baseline = run_load(server.url, photo, args.baseline_requests, 1, deadline)
            with PeakMemory(server._process.pid) as calm_memory:
                load = run_load(server.url, photo, args.requests, args.concurrency, deadline)
            if attack:
                with PeakMemory(server._process.pid) as attack_memory, \
                        Attack(server.port, args.slow_clients, args.bombers, args.header_clients) as attackers:
                    attacked = run_load(server.url, photo, args.requests, args.concurrency, deadline)
            health = httpx.get(server.url + "/health").json()
    model = health["model"]
    print(f"model {model['uri']} (version {model['version']}), astronaut photo {len(photo)} bytes, loopback, "
          f"{os.cpu_count()} CPUs")
    print(_line("baseline (sequential)", baseline))
    print(_line("load, no attack", load) + f", server peak {calm_memory.peak_mb:.0f} MB")
    results = [baseline, load]
    if attack:
        print(_line("load, under attack", attacked) + f", server peak {attack_memory.peak_mb:.0f} MB")
        print(f"attack: {args.slow_clients} slow bodies, {args.bombers} bomb senders, {args.header_clients} "
              f"big-header senders; answers they got: {attackers.outcomes}")
        print(f"server's own counts (/health refused): {health.get('refused')}")
        results.append(attacked)
    for problem in [p for r in results for p in r["first_errors"]]:
        print("  error:", problem)
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
