"""The web service against hostile clients, for real on loopback (issue 41, cases 1 and 2): bodies
sent a byte at a time, 64 of them at once, a decompression-bomb PNG, and more uploads at once
than the service has decode slots and queue places. Each client is bounded in time and count."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
import pytest

from benchmarks.support.serve_local import LOOPBACK, LocalServer

from .pipeline import REPO, set_params
from .serve_kit import astronaut_jpeg

pytestmark = pytest.mark.slow


def _open_slow_upload(port: int, declared: int = 100_000) -> socket.socket:
    """A POST whose headers arrive at once and whose body then trickles (the caller sends it)."""
    sock = socket.create_connection((LOOPBACK, port), timeout=30)
    sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: image/jpeg\r\n"
                 f"Content-Length: {declared}\r\n\r\n".encode() + b"\xff")
    return sock


def _status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def test_body_sent_a_byte_at_a_time_is_cut_with_408_and_counted(serve_server):
    sock = _open_slow_upload(serve_server.port)
    start = time.monotonic()
    try:
        sock.settimeout(0.5)
        answer = ""
        while time.monotonic() - start < 25 and not answer:  # the landed main never cut it
            try:
                answer = _status_line(sock)
            except TimeoutError:
                sock.sendall(b"\0")
    finally:
        sock.close()
    took = time.monotonic() - start
    assert answer.startswith("HTTP/1.1 408"), f"after {took:.0f} s: {answer!r}"
    assert took < 15, f"cut only after {took:.1f} s"
    health = httpx.get(serve_server.url + "/health", timeout=10).json()
    assert health["refused"].get("408", 0) >= 1
    assert "408 for 127.0.0.1" in serve_server.log_tail(20_000)


def test_health_and_uploads_are_answered_beside_64_slow_uploads(serve_server):
    sockets = []
    try:
        for _ in range(64):
            sockets.append(_open_slow_upload(serve_server.port))
            time.sleep(0.05)
        health = httpx.get(serve_server.url + "/health", timeout=10)
        assert health.status_code == 200, health.text
        photo = httpx.post(serve_server.url + "/api/predict", content=astronaut_jpeg(),
                           headers={"Content-Type": "image/jpeg"}, timeout=60)
        assert photo.status_code == 200, photo.text
    finally:
        for sock in sockets:
            sock.close()


def test_decompression_bomb_png_is_413_from_its_header(serve_server):
    """7000x7000 plain pixels: about 150 KB of PNG, about 150 MB decoded."""
    ok, png = cv2.imencode(".png", np.zeros((7000, 7000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok and len(png) < 1024 * 1024
    start = time.monotonic()
    response = httpx.post(serve_server.url + "/api/predict", content=png.tobytes(),
                          headers={"Content-Type": "image/png"}, timeout=60)
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert "\n" not in detail and "7000x7000" in detail and "max_decoded_megapixels" in detail
    assert time.monotonic() - start < 5


@pytest.fixture(scope="module")
def one_slot_server(serve_standin, tmp_path_factory):
    """The service with one decode slot and two queue places, from its own params file."""
    folder = tmp_path_factory.mktemp("one-slot")
    params = folder / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    set_params(params, {"serve.concurrent_decodes": 1, "serve.max_queue": 2})
    with LocalServer(["--params", str(params)], env=serve_standin.env, log_path=folder / "server.log") as server:
        yield server


def test_uploads_beyond_the_queue_are_503_with_retry_after_and_health_still_answers(one_slot_server):
    url = one_slot_server.url
    photo = astronaut_jpeg(1600, quality=95)  # a few hundred ms of work each on a 2-core machine
    peak_in_work, health_codes, stop = [0], [], threading.Event()

    def watch_health() -> None:
        while not stop.is_set():
            response = httpx.get(url + "/health", timeout=10)
            health_codes.append(response.status_code)
            peak_in_work[0] = max(peak_in_work[0], response.json()["queue"]["in_work"])
            time.sleep(0.02)

    def upload(_: int) -> httpx.Response:
        return httpx.post(url + "/api/predict", content=photo, headers={"Content-Type": "image/jpeg"}, timeout=120)

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    try:
        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(upload, range(12)))
    finally:
        stop.set()
        watcher.join(timeout=30)
    codes = sorted(r.status_code for r in responses)
    assert set(codes) == {200, 503}, codes
    assert codes.count(200) >= 3  # one in work and two waiting were always let in
    for busy in (r for r in responses if r.status_code == 503):
        assert int(busy.headers["Retry-After"]) >= 1 and "max_queue" in busy.json()["detail"]
    assert health_codes and set(health_codes) == {200}
    assert peak_in_work[0] <= 1
    assert httpx.post(url + "/api/predict", content=photo, headers={"Content-Type": "image/jpeg"},
                      timeout=120).status_code == 200  # the queue drained


def test_oversized_headers_are_refused_by_uvicorn(serve_server):
    """h11 counts only what it holds unparsed: headers that arrive in one read are let through, so
    the padding is larger than one read (64 KB)."""
    try:  # uvicorn answers 400 and closes while the client may still be sending: then the send is reset
        refused = httpx.get(serve_server.url + "/health", headers={"X-Padding": "a" * 256 * 1024},
                            timeout=10).status_code == 400
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        refused = True
    assert refused
    assert httpx.get(serve_server.url + "/health", timeout=10).status_code == 200

