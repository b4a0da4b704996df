"""The documented command (`python -m facial_emotion.serve`) in a child process on loopback, for
tests and the load benchmark: started, waited for until /health answers, stopped, logs kept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from facial_emotion.paths import repo_root

LOOPBACK = "127.0.0.1"
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalServer:
    """`with LocalServer(["--model", uri], env, log_path) as server: server.url` -> http://127.0.0.1:<port>."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, log_path: str | Path | None = None,
                 port: int | None = None, start_timeout: float = 180.0,
                 command: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.command = (command or [sys.executable, "-m", "facial_emotion.serve",
                                    "--host", LOOPBACK, "--port", str(self.port)]) + list(args)
        self.env = {**os.environ, **QUIET_ENV, **(env or {})}
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.health_path = "/health"
        self._process: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(self.command, cwd=repo_root(), env=self.env, stdout=self._log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited with status {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"server did not answer {self.health_path} within {self.start_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def log_tail(self, chars: int = 4000) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-chars:]
        return "(no log kept)"
