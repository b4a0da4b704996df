#!/usr/bin/env python3
"""A team's shared stack on one machine, on loopback only, with the software a team runs for real:
PostgreSQL for MLflow's runs and registry, an S3 API for MLflow's artifacts and the DVC remote, and
`mlflow server` over both. For trying the team set-up and for its tests; docs/teams.md maps every
part to its production equivalent.

    python scripts/team.py up             # start all three (make team-up); writes .team/team.env
    python scripts/team.py down           # stop all three, leave no process (make team-down)
    python scripts/team.py status         # what runs where
    python scripts/team.py stop mlflow    # fault drills: stop / start one service (mlflow, postgres, s3)
    python scripts/team.py start mlflow

The S3 API is moto's standalone server (pip `moto[server]`): MinIO's binary is on no package registry
here. moto keeps objects in memory, so `stop s3` loses them; stop the other two for fault drills.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"
BUCKET = "team"  # one bucket, two prefixes, as in docs/teams.md: s3://team/mlflow and s3://team/dvc
REGION = "us-east-1"
DB_NAME = DB_USER = "mlflow"
SERVICES = ("postgres", "s3", "mlflow")  # start order; stopped in reverse
BIN = Path(sys.executable).parent  # the venv's mlflow and moto_server
REPO = Path(__file__).resolve().parents[1]


class TeamError(Exception):
    """A one-line reason the stack cannot start or stop."""


# ---------------------------------------------------------------- processes


def _processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, parent pid, process group) of every process, from /proc."""
    table = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        state, ppid, pgrp = text[text.rfind(")") + 2:].split()[:3]
        table[int(stat.split("/")[2])] = (state, int(ppid), int(pgrp))
    return table


def alive(leader: int) -> list[int]:
    """Live (non-zombie) pids of a service: its leader, the leader's process group, and their descendants
    (PostgreSQL's backends each call setsid, so the group alone misses them)."""
    table = _processes()
    family = {pid for pid, (_, _, pgrp) in table.items() if pgrp == leader} | {leader}
    grew = True
    while grew:
        children = {pid for pid, (_, ppid, _) in table.items() if ppid in family} - family
        family |= children
        grew = bool(children)
    return sorted(pid for pid in family if pid in table and table[pid][0] != "Z")


def _stop_tree(leader: int, grace: float = 15.0) -> None:
    """SIGTERM the service's processes, SIGKILL what is left after `grace` seconds, wait until none is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        for pid in alive(leader):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(leader):
                return
            time.sleep(0.1)
    left = alive(leader)
    if left:
        raise TeamError(f"processes {left} survived SIGKILL")


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start `command` in its own session (its pid is its process group), detached from this one."""
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True, cwd=log.parent)
    return process.pid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _wait_http(url: str, pid: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            raise TeamError(f"{url} exited while starting; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise TeamError(f"{url} did not answer within {timeout:.0f} s; see {log}")


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, else PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("pg_ctl") else None


def postgres_missing_reason() -> str | None:
    """Why this machine cannot run a throw-away PostgreSQL cluster, or None when it can."""
    if postgres_bin() is None:
        return "PostgreSQL's initdb/pg_ctl not found (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' user to run initdb as (initdb refuses root)"
        if not shutil.which("runuser"):
            return "running as root and no runuser to run initdb as the 'postgres' user"
    return None


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as Debian's `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _pg(state: dict, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(_as_owner([str(Path(state["postgres"]["bin"]) / tool), *args]), capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, cwd=state["postgres"]["home"], timeout=120)
    if check and result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise TeamError(f"{tool} {' '.join(args[:2])} failed: {last[0]}")
    return result


def _init_postgres(state: dict, home: Path) -> None:
    reason = postgres_missing_reason()
    if reason:
        raise TeamError(reason)
    cluster = Path(tempfile.mkdtemp(prefix="team-postgres-"))  # a throw-away cluster, outside the repo
    if os.geteuid() == 0:
        shutil.chown(cluster, "postgres", "postgres")
    pg = state["postgres"] = {"bin": str(postgres_bin()), "home": str(cluster), "data": str(cluster / "data"),
                              "socket": str(cluster), "log": str(cluster / "postgres.log"), "port": _free_port(),
                              "password": secrets.token_urlsafe(18)}
    _save(home, state)  # recorded before anything starts, so `down` finds it even after a killed `up`
    # Local socket (in a 0700 folder) trusts its owner; TCP on loopback needs the password, as in production.
    _pg(state, "initdb", "-D", pg["data"], "-U", "postgres", "-E", "UTF8", "--locale=C",
        "--auth-local=trust", "--auth-host=scram-sha-256")
    _start_postgres(state)
    for sql in (f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{pg['password']}'",
                f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}"):
        _pg(state, "psql", "-h", pg["socket"], "-p", str(pg["port"]), "-U", "postgres", "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-qc", sql)


def _start_postgres(state: dict) -> None:
    pg = state["postgres"]
    options = f"-c listen_addresses={LOOPBACK} -p {pg['port']} -k {pg['socket']}"
    _pg(state, "pg_ctl", "start", "-w", "-t", "60", "-D", pg["data"], "-l", pg["log"], "-o", options)
    pid_file = Path(pg["data"]) / "postmaster.pid"
    pg["pid"] = int(pid_file.read_text().split()[0])  # the postmaster


def _stop_postgres(state: dict) -> None:
    pg = state["postgres"]
    if (Path(pg["data"]) / "postmaster.pid").exists():
        _pg(state, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", pg["data"], check=False)
    if pg.get("pid"):
        _stop_tree(pg["pid"])


# ---------------------------------------------------------------- S3 (moto) and MLflow


def _start_s3(state: dict, home: Path) -> None:
    s3 = state.setdefault("s3", {"port": _free_port()})
    s3["log"] = str(home / "s3.log")
    s3["pid"] = _spawn([str(BIN / "moto_server"), "-H", LOOPBACK, "-p", str(s3["port"])], Path(s3["log"]))
    _save(home, state)
    s3["endpoint"] = f"http://{LOOPBACK}:{s3['port']}"
    _wait_http(s3["endpoint"] + "/moto-api/", s3["pid"], Path(s3["log"]), 60)
    import boto3

    boto3.client("s3", endpoint_url=s3["endpoint"], region_name=REGION,
                 **_boto_creds(state)).create_bucket(Bucket=BUCKET)


def _boto_creds(state: dict) -> dict[str, str]:
    return {"aws_access_key_id": state["aws"]["key"], "aws_secret_access_key": state["aws"]["secret"]}


def backend_store_uri(state: dict) -> str:
    pg = state["postgres"]
    return f"postgresql://{DB_USER}:{pg['password']}@{LOOPBACK}:{pg['port']}/{DB_NAME}"


def _start_mlflow(state: dict, home: Path) -> None:
    ml = state.setdefault("mlflow", {"port": _free_port()})
    ml["log"] = str(home / "mlflow.log")
    ml["uri"] = f"http://{LOOPBACK}:{ml['port']}"
    # The database URI goes in the environment (MLFLOW_BACKEND_STORE_URI), so its password is not in `ps`.
    env = {**_aws_env(state), "MLFLOW_S3_ENDPOINT_URL": state["s3"]["endpoint"],
           "MLFLOW_BACKEND_STORE_URI": backend_store_uri(state),
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    ml["pid"] = _spawn([str(BIN / "mlflow"), "server", "--host", LOOPBACK, "--port", str(ml["port"]), "--workers", "1",
                         "--artifacts-destination", f"s3://{BUCKET}/mlflow"], Path(ml["log"]), env)
    _save(home, state)
    _wait_http(ml["uri"] + "/health", ml["pid"], Path(ml["log"]), 180)


def _aws_env(state: dict) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": state["aws"]["key"], "AWS_SECRET_ACCESS_KEY": state["aws"]["secret"],
            "AWS_DEFAULT_REGION": REGION}


# ---------------------------------------------------------------- state and commands


def _state_path(home: Path) -> Path:
    return home / "state.json"


def _load(home: Path) -> dict:
    path = _state_path(home)
    if not path.exists():
        raise TeamError(f"no team stack recorded in {home} (make team-up starts one)")
    return json.loads(path.read_text())


def _save(home: Path, state: dict) -> None:
    tmp = _state_path(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.chmod(tmp, 0o600)  # it holds the database password
    tmp.replace(_state_path(home))


def env_lines(state: dict) -> list[str]:
    """What a team member exports: the tracking server, and the S3 credentials and endpoint DVC uses."""
    return [f"MLFLOW_TRACKING_URI={state['mlflow']['uri']}", *(f"{k}={v}" for k, v in _aws_env(state).items()),
            f"AWS_ENDPOINT_URL_S3={state['s3']['endpoint']}", f"TEAM_DVC_REMOTE=s3://{BUCKET}/dvc"]


def _write_env(home: Path, state: dict) -> Path:
    path = home / "team.env"
    header = ["# The team stack's settings (make team-up). In a shell: set -a; . .team/team.env; set +a",
              "# DVC remote on the same object store:",
              f"#   dvc remote add --local -d team s3://{BUCKET}/dvc",
              f"#   dvc remote modify --local team endpointurl {state['s3']['endpoint']}"]
    path.write_text("\n".join(header + env_lines(state)) + "\n")
    os.chmod(path, 0o600)
    return path


def up(home: Path) -> dict:
    if _state_path(home).exists():
        raise TeamError(f"a team stack is already recorded in {home}: make team-down first")
    home.mkdir(parents=True, exist_ok=True)
    state: dict = {"home": str(home),
                   "aws": {"key": "team-" + secrets.token_hex(4), "secret": secrets.token_urlsafe(24)}}
    try:
        _init_postgres(state, home)
        _save(home, state)
        _start_s3(state, home)
        _save(home, state)
        _start_mlflow(state, home)
        _save(home, state)
    except BaseException:
        _save(home, state)
        down(home, keep_logs=True)
        raise
    _write_env(home, state)
    return state


def start(home: Path, service: str) -> None:
    state = _load(home)
    if service == "postgres":
        _start_postgres(state)
    elif service == "s3":
        _start_s3(state, home)
    else:
        _start_mlflow(state, home)
    _save(home, state)


def stop(home: Path, service: str) -> None:
    state = _load(home)
    if service == "postgres":
        _stop_postgres(state)
    elif state.get(service, {}).get("pid"):
        _stop_tree(state[service]["pid"])


def down(home: Path, keep_logs: bool = False) -> None:
    """Stop every service (mlflow first, the database last), check none is left, remove the cluster."""
    state = _load(home)
    errors = []
    for service in reversed(SERVICES):
        if service not in state:
            continue
        try:
            stop(home, service)
        except (TeamError, OSError, subprocess.SubprocessError) as exc:
            errors.append(f"{service}: {exc}")
    left = {s: alive(state[s]["pid"]) for s in SERVICES if state.get(s, {}).get("pid")}
    left = {s: pids for s, pids in left.items() if pids}
    if left or errors:
        raise TeamError(f"team-down left processes {left} {'; '.join(errors)}".strip())
    if "postgres" in state:
        if keep_logs and Path(state["postgres"]["log"]).exists():
            shutil.copy(state["postgres"]["log"], home / "postgres.log")
        shutil.rmtree(state["postgres"]["home"], ignore_errors=True)
    if keep_logs:
        _state_path(home).unlink()
    else:
        shutil.rmtree(home)


def status(home: Path) -> str:
    state = _load(home)
    lines = []
    for service in SERVICES:
        info = state.get(service, {})
        running = bool(info.get("pid") and alive(info["pid"]))
        where = {"postgres": f"{LOOPBACK}:{info.get('port')}", "s3": info.get("endpoint"),
                 "mlflow": info.get("uri")}[service]
        lines.append(f"{service:8s} {'running' if running else 'stopped'}  {where}  log {info.get('log')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/team.py", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TEAM_DIR", REPO / ".team")),
                        help="where state, logs and team.env go (default: .team/ in the repo, or $TEAM_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start PostgreSQL, the S3 API and mlflow server on loopback")
    sub.add_parser("down", help="stop them all and remove the throw-away cluster")
    sub.add_parser("status", help="print what runs where")
    for name in ("start", "stop"):
        sub.add_parser(name, help=f"{name} one service (fault drills)").add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    home = args.dir.resolve()
    try:
        if args.command == "up":
            state = up(home)
            print(status(home))
            print(f"settings: {home / 'team.env'}  (set -a; . {home / 'team.env'}; set +a)")
            print(f"mlflow server {state['mlflow']['uri']}  DVC remote s3://{BUCKET}/dvc at {state['s3']['endpoint']}")
        elif args.command == "down":
            down(home)
            print("team stack stopped; no process left")
        elif args.command == "status":
            print(status(home))
        elif args.command == "start":
            start(home, args.service)
        else:
            stop(home, args.service)
    except TeamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
