"""MLflow runs left RUNNING by a process that is gone (kill -9, an out-of-memory kill, a lost
session): every stage run is tagged with its host and process, and a stage that starts marks such
runs of this experiment FAILED, so the MLflow UI never shows a dead run as still going.

Only runs from this host are judged: another machine's processes cannot be seen from here. A
process id is compared with its start time too, so a recycled pid does not keep a dead run alive.
"""

from __future__ import annotations

import logging
import os
import socket

import psutil

log = logging.getLogger(__name__)

HOST, PID, PID_STARTED = "host", "pid", "pid_started"


def process_tags() -> dict[str, str]:
    """The tags that let a later stage tell whether this run's process still lives."""
    return {HOST: socket.gethostname(), PID: str(os.getpid()), PID_STARTED: f"{psutil.Process().create_time():.3f}"}


def process_alive(pid: int, started: str | None) -> bool:
    try:
        process = psutil.Process(pid)
        return started is None or abs(process.create_time() - float(started)) < 1.0
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, ValueError):
        return True  # cannot tell: leave the run alone


def fail_abandoned_runs(experiment_id: str) -> list[str]:
    """Mark this host's RUNNING runs whose process is gone as FAILED; one log line names them."""
    from mlflow import MlflowClient

    client, host = MlflowClient(), socket.gethostname()
    running = client.search_runs([experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.{HOST} = "
                                 f"'{host.replace(chr(39), '')}'", max_results=1000)
    ended = []
    for run in running:
        try:
            pid = int(run.data.tags.get(PID, ""))
        except ValueError:
            continue
        if pid == os.getpid() or process_alive(pid, run.data.tags.get(PID_STARTED)):
            continue
        client.set_tag(run.info.run_id, "ended_by", f"a later stage: its process {pid} on {host} was gone")
        client.set_terminated(run.info.run_id, "FAILED")
        ended.append(f"{run.info.run_id} ({run.info.run_name}, pid {pid})")
    if ended:
        log.warning("marked %d MLflow run(s) FAILED that processes gone from %s left RUNNING: %s",
                    len(ended), host, ", ".join(ended))
    return ended
