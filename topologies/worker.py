"""Running a Faust worker for a pipeline, in this process or as a child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from topologies.proc import die_with_parent
from topologies.settings import WorkerSettings


def run_worker(settings: WorkerSettings, loglevel: str = "warning") -> None:
    """Blocks until the worker stops (SIGTERM/SIGINT)."""
    from faust.worker import Worker

    from topologies import runtime
    from topologies.app import create_app

    runtime.tune_gc()
    pipeline = create_app(settings)
    worker = Worker(pipeline.app, loglevel=loglevel, quiet=True)

    def stop(exc: BaseException) -> None:
        """An agent failed (runtime.fail_fast): stop as on SIGTERM, then exit with code 1
        (mode re-raises the worker's ``crash_reason`` once it has shut down)."""
        worker.crash_reason = exc
        os.kill(os.getpid(), signal.SIGTERM)

    setattr(pipeline.app, runtime.STOP_HOOK, stop)
    worker.execute_from_commandline()


def spawn_worker(
    broker: str, model_dir: Path, data_dir: Path, web_port: int, log_path: Path,
    app_id: str = "muleguard", extra_env: dict[str, str] | None = None,
    endpoints: Path | None = None, loglevel: str = "warning",
) -> subprocess.Popen[bytes]:
    """A ``muleguard worker`` child process with its output in ``log_path``."""
    cmd = [sys.executable, "-m", "topologies.cli", "worker", "--broker", broker,
           "--model", str(model_dir), "--web-port", str(web_port), "--data-dir", str(data_dir),
           "--app-id", app_id, "--loglevel", loglevel]
    if endpoints is not None:
        cmd += ["--endpoints", str(endpoints)]
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    env = {**os.environ, **(extra_env or {})}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, preexec_fn=die_with_parent)


def wait_ready(web_port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> dict:
    """Poll ``/ready`` until the worker has its partitions assigned."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"worker exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/ready", timeout=1) as resp:
                return json.loads(resp.read())
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = str(exc)
        time.sleep(0.25)
    raise TimeoutError(f"worker on port {web_port} not ready after {timeout_s} s ({last})")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
