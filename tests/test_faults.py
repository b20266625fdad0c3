"""Faults while a sweep runs: its process killed, its Dask workers or scheduler lost.

Each test is bounded in time: a sweep that hung or left processes behind fails
it within seconds rather than hanging the suite.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neurosim.errors import NeurosimError

ROOT = Path(__file__).resolve().parents[1]

TASK_MODULE = '''
import time

def run(settings, rng):
    """Point 0 is quick; the others sleep long enough to be interrupted."""
    if settings["x"] > 0:
        time.sleep(settings["x"])
    return {"value": float(settings["x"])}
'''


def _children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def slow_task(tmp_path):
    """A user task module ``slowtask`` importable by subprocesses, and a spec of 1 quick and 3 slow points."""
    (tmp_path / "slowtask.py").write_text(TASK_MODULE)
    (tmp_path / "spec.toml").write_text('task = "slowtask:run"\nseeds = 1\n[grid]\nx = [0, 60, 60, 60]\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return tmp_path, env


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill"])
def test_killing_the_sweep_ends_its_worker_processes(slow_task, sig):
    folder, env = slow_task
    sweep = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "sweep", "spec.toml", "--out", "out", "--workers", "2"],
                             cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = set()
    try:
        _wait_for(lambda: (folder / "out" / "points" / "000000.json").exists(), 60, "the quick point")
        workers = _wait_for(lambda: {p for p in _children(sweep.pid) if _alive(p)}, 30, "worker processes")
        sweep.send_signal(sig)
        sweep.wait(10)
        _wait_for(lambda: not any(_alive(p) for p in workers), 5, f"workers {workers} to end")
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        for p in workers | _children(sweep.pid):  # never leave a worker behind, even when the test fails
            if _alive(p):
                os.kill(p, signal.SIGKILL)
    assert json.loads((folder / "out" / "points" / "000000.json").read_text())["metrics"]["value"] == 0.0


def _start(args, folder, env):
    return subprocess.Popen([sys.executable, "-m", "distributed.cli." + args[0], *args[1:]], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def dask_cluster(slow_task):
    """A Dask scheduler and one worker (no nanny, so a killed worker stays dead) on loopback, as processes."""
    pytest.importorskip("distributed")
    folder, env = slow_task
    procs = [_start(["dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", "scheduler.json"], folder, env)]
    try:
        info = _wait_for(lambda: (folder / "scheduler.json").exists() and json.loads((folder / "scheduler.json").read_text()),
                         60, "the scheduler")
        procs.append(_start(["dask_worker", "--scheduler-file", "scheduler.json", "--no-nanny", "--nthreads", "1",
                             "--no-dashboard"], folder, env))
        sys.path.insert(0, str(folder))
        yield folder, info["address"], procs
    finally:
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        sys.modules.pop("slowtask", None)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _kill_after_first_point(folder, proc):
    def watch():
        _wait_for(lambda: (folder / "out" / "points" / "000000.json").exists(), 60, "the quick point")
        time.sleep(0.5)
        proc.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("victim", ["workers", "scheduler"])
def test_losing_the_dask_cluster_stops_the_sweep_with_one_error(dask_cluster, victim):
    from neurosim.sweep import load_spec, run_sweep

    folder, address, (scheduler, worker) = dask_cluster
    spec = load_spec(folder / "spec.toml")
    _kill_after_first_point(folder, worker if victim == "workers" else scheduler)
    start = time.monotonic()
    with pytest.raises(NeurosimError) as info:
        run_sweep(spec, folder / "out", scheduler=address, worker_timeout_s=2)
    message = str(info.value)
    assert time.monotonic() - start < 45
    assert "\n" not in message and address in message and "finished points are saved" in message
    assert ("no workers" if victim == "workers" else "lost the Dask scheduler") in message
    assert json.loads((folder / "out" / "points" / "000000.json").read_text())["metrics"]["value"] == 0.0
