"""Experiment grids: specs, per-point seeds, executors, atomic results, resume.

A sweep spec (TOML) names a *task* (a :class:`~neurosim.tasks.Task`: its run
function ``run(settings, rng) -> dict`` of metrics, the settings it accepts and
the metrics it returns), the fixed ``[base]`` settings, the ``[grid]`` axes whose product
is swept, and the number of seeds. Every (configuration, seed) pair is one
point. Point ``i`` draws its random numbers from
``np.random.SeedSequence(seed).spawn(n)[i]``: indexed by the point, never by the
worker, so one worker and a hundred give identical results. Every
configuration is checked by the task (unknown settings, bad values, a plot
metric the task does not return) before any point runs.

Each finished point is written atomically to ``OUT/points/NNNNNN.json``; a
rerun skips the points already there (and refuses to mix results of a changed
spec), so an interrupted sweep loses nothing. When all points are done the
sweep writes ``results.csv`` (one tidy row per point), ``sweep.json`` (the
resolved spec and settings with the provenance of :mod:`neurosim.provenance`:
versions, seed, git revision and dirty mark) and the plot.
"""

import concurrent.futures as cf
import csv
import hashlib
import itertools
import json
import logging
import math
import re
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurosim.files import read_toml
from neurosim.errors import NeurosimError
from neurosim.validation import file_name, output_folder, real, reject, scheduler_address, whole
from neurosim.progress import Progress
from neurosim.provenance import with_provenance, write_json
from neurosim.resources import shipped_dir
from neurosim.serial import to_plain
from neurosim.tasks import TASKS, resolve_task

log = logging.getLogger(__name__)

_SPEC_KEYS = {"name", "description", "task", "seed", "seeds", "base", "grid", "plot"}
_PLOT_KEYS = {"kind", "x", "series", "style", "metric", "reference", "xlabel", "ylabel", "title", "xscale", "published",
              "note", "cost"}
#: Plot kinds: a metric against a grid axis (line, bar), a list metric against its epochs (epochs), or a
#: metric against a cost metric with the trade-off's front (pareto: ``cost``, e.g. ``energy_J``).
_PLOT_KINDS = ("line", "bar", "epochs", "pareto")
#: Most seeds per configuration and most points per sweep: one point file each, listed in memory.
MAX_SEEDS = 10_000
MAX_POINTS = 1_000_000
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class SweepSpec:
    """A validated experiment grid.

    The fields are checked on construction (a name that is a plain file name,
    a task name, a non-empty grid of non-empty lists, seed counts and the
    number of points within bounds); the settings themselves are checked by
    the task (:func:`check_spec`).
    """

    name: str
    task: str
    base: dict
    grid: dict
    seeds: int = 5
    seed: int = 0
    description: str = ""
    plot: dict = field(default_factory=dict)

    def __post_init__(self):
        file_name("name", self.name)
        if not isinstance(self.task, str):
            reject("task", self.task, f"a task name ({', '.join(sorted(TASKS))}) or 'module:function'")
        if not isinstance(self.grid, dict) or not self.grid:
            raise NeurosimError("the [grid] table is empty: give at least one axis, e.g. \"device.read_noise_frac\" = [0, 0.01]")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise NeurosimError(f"grid axis '{key}' must be a non-empty list of values, got {values!r}")
        if not isinstance(self.base, dict):
            raise NeurosimError("[base] must be a table of settings")
        overlap = sorted(set(self.base) & set(self.grid))
        if overlap:
            raise NeurosimError(f"setting(s) {overlap} appear in both [base] and [grid]")
        whole("seeds", self.seeds, 1, high=MAX_SEEDS)
        n_points = self.seeds * math.prod(len(v) for v in self.grid.values())
        if n_points > MAX_POINTS:
            raise NeurosimError(f"the grid times seeds gives {n_points} points; at most {MAX_POINTS} are allowed")
        whole("seed", self.seed, 0, high=2**63 - 1)
        if not isinstance(self.description, str):
            reject("description", self.description, "a string")
        self._check_plot()

    def _check_plot(self):
        plot = self.plot
        if not isinstance(plot, dict):
            raise NeurosimError("[plot] must be a table")
        unknown = sorted(set(plot) - _PLOT_KEYS)
        if unknown:
            raise NeurosimError(f"unknown [plot] key(s) {unknown}; allowed: {sorted(_PLOT_KEYS)}")
        for key, value in plot.items():
            if key != "published" and not isinstance(value, str):
                raise NeurosimError(f"[plot] {key} = {value!r} is not allowed: a string")
        for key in ("x", "series", "style"):
            if key in plot and plot[key] not in self.grid:
                raise NeurosimError(f"[plot] {key} = {plot[key]!r} must be one of the grid axes {sorted(self.grid)}")
        if plot.get("kind", "line") not in _PLOT_KINDS:
            raise NeurosimError(f"[plot] kind = {plot['kind']!r} must be one of {list(_PLOT_KINDS)}")
        published = plot.get("published", {})
        if not isinstance(published, dict) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100 for v in published.values()
        ):
            raise NeurosimError(f"[plot] published = {published!r} must be a table of series value = accuracy in percent (0-100)")
        if published and plot.get("kind") != "epochs":
            raise NeurosimError("[plot] published is drawn only by kind = 'epochs'")
        if (plot.get("kind") == "pareto") != ("cost" in plot):
            raise NeurosimError("[plot] cost (the metric of the x axis, e.g. 'energy_J') goes with kind = 'pareto', and only with it")
        if plot.get("xscale", "linear") not in ("linear", "log", "symlog"):
            raise NeurosimError(f"[plot] xscale = {plot['xscale']!r} must be 'linear', 'log' or 'symlog'")

    def configurations(self) -> list[dict]:
        """Every combination of the grid axes (base settings included), in a fixed order."""
        keys = list(self.grid)
        return [{**self.base, **dict(zip(keys, values))} for values in itertools.product(*self.grid.values())]

    def points(self) -> list[tuple[int, int, dict]]:
        """(point index, seed index, settings) for every configuration x seed."""
        out = []
        for c, settings in enumerate(self.configurations()):
            for s in range(self.seeds):
                out.append((c * self.seeds + s, s, settings))
        return out

    def digest(self) -> str:
        """Fingerprint of everything that decides the results (not the plot or text)."""
        key = json.dumps([self.task, self.base, self.grid, self.seeds, self.seed], sort_keys=True, default=str)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """The spec as plain values (as read from TOML)."""
        return to_plain(self)

    def plot_metric(self) -> str:
        """The metric the plot shows: the spec's ``[plot] metric``, else the task's default."""
        return self.plot.get("metric") or resolve_task(self.task).plot_metric


def check_spec(spec: SweepSpec, source: str | None = None) -> None:
    """Raise :class:`NeurosimError` unless the task exists, takes every configuration and returns the plotted metrics.

    Runs no point: it only resolves the task and calls its
    :meth:`~neurosim.tasks.Task.validate` on each configuration.
    """
    source = source or spec.name
    task = resolve_task(spec.task)
    for settings in spec.configurations():
        try:
            task.validate(settings)
        except NeurosimError as exc:
            raise NeurosimError(f"{source}: task {spec.task!r}: {exc}") from None
    if spec.plot:
        for key in (spec.plot_metric(), spec.plot.get("reference"), spec.plot.get("cost")):
            if key is not None and not task.returns(key):
                raise NeurosimError(
                    f"{source}: [plot] names metric {key!r}, but task {spec.task!r} returns {sorted(task.metrics)}"
                    + (f" and metrics starting with {list(task.metric_prefixes)}" if task.metric_prefixes else "")
                )


def parse_spec(data: dict, source: str = "<spec>") -> SweepSpec:
    """Validate a spec mapping (as read from TOML) into a :class:`SweepSpec`."""

    def bad(message):
        raise NeurosimError(f"{source}: {message}")

    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        bad(f"unknown key(s) {unknown}; allowed: {sorted(_SPEC_KEYS)}")
    if "task" not in data:
        bad(f"missing key 'task' (one of {sorted(TASKS)} or 'module:function')")
    # without a name, the spec file's stem made into a plain name
    name = data.get("name", re.sub(r"[^A-Za-z0-9_.-]", "_", Path(source).stem).lstrip(".")[:100] or "sweep")
    try:
        spec = SweepSpec(
            name=name,
            task=data["task"],
            base=data.get("base", {}),
            grid=data.get("grid", {}),
            seeds=data.get("seeds", 5),
            seed=data.get("seed", 0),
            description=data.get("description", ""),
            plot=data.get("plot", {}),
        )
    except NeurosimError as exc:
        bad(str(exc))
    check_spec(spec, source)
    return spec


def load_spec(path) -> SweepSpec:
    """Read and validate a sweep spec from a TOML file, or a shipped spec by name."""
    path = Path(path)
    if not path.exists() and path.parent == Path(".") and path.suffix in ("", ".toml"):
        shipped = shipped_dir("experiments") / f"{path.stem}.toml"
        if shipped.exists():
            path = shipped
    return parse_spec(read_toml(path, "sweep spec"), str(path))


# -- running points ------------------------------------------------------------
def point_seed(spec: SweepSpec, index: int, n_points: int) -> np.random.SeedSequence:
    """The seed sequence of point ``index``: child ``index`` of ``SeedSequence(spec.seed)``."""
    return np.random.SeedSequence(spec.seed).spawn(n_points)[index]


def run_point(task_name: str, settings: dict, seed_seq: np.random.SeedSequence) -> dict:
    """Run one point (in whatever process) and return its metrics plus its run time (s)."""
    task = resolve_task(task_name)
    start = time.perf_counter()
    if task.plain_settings is None:  # a user task: its own mistakes are reported, not raised as a traceback
        try:
            metrics = task.run(dict(settings), np.random.default_rng(seed_seq))
        except NeurosimError:
            raise
        except Exception as exc:
            raise NeurosimError(f"task {task_name!r} failed on settings {settings}: {type(exc).__name__}: {exc}") from None
    else:
        metrics = task.run(dict(settings), np.random.default_rng(seed_seq))
    if not isinstance(metrics, dict) or not all(isinstance(k, str) for k in metrics):
        raise NeurosimError(f"task {task_name!r} returned {type(metrics).__name__}; a task returns a dict of metric name -> value")
    metrics = {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in metrics.items()}
    metrics["time_s"] = time.perf_counter() - start
    return metrics


def _finished(path: Path) -> bool:
    """Whether a point file holds a complete result (a torn or empty file counts as unfinished)."""
    try:
        return "metrics" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def _single_thread_env():
    """Cap BLAS and Numba threads in worker processes: sweeps parallelise over points."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    return saved


def _restore_env(saved):
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def run_sweep(
    spec: SweepSpec, out_dir, *, workers: int | None = None, scheduler: str | None = None, worker_timeout_s: float = 60.0
) -> Path:
    """Run every unfinished point of ``spec`` into ``out_dir`` and write the tables and plot.

    ``workers``: local processes (default: all cores; 1 runs in this process).
    ``scheduler``: a Dask scheduler address (``tcp://host:port``) to run on a
    cluster instead; the sweep stops with :class:`NeurosimError` when the
    scheduler is lost or has had no worker for ``worker_timeout_s`` seconds
    (finished points stay saved). Every configuration is checked (:func:`check_spec`)
    before any point runs. Returns the path of ``results.csv``.
    """
    check_spec(spec)
    if scheduler is not None:
        scheduler_address("scheduler", scheduler)
    real("worker_timeout_s", worker_timeout_s, "a time > 0 s", lambda v: v > 0)
    if workers is not None:
        whole("workers", workers, 1)
    out = output_folder("out_dir", out_dir)
    points_dir = out / "points"
    stamp = out / "spec.json"
    if stamp.exists():
        try:
            previous = json.loads(stamp.read_text())
        except (OSError, ValueError) as exc:
            raise NeurosimError(f"{stamp} cannot be read ({exc}); use a new --out folder") from None
        if not isinstance(previous, dict) or previous.get("digest") != spec.digest():
            name = previous.get("name") if isinstance(previous, dict) else None
            raise NeurosimError(f"{out} holds results of a different spec ({name}); use a new --out folder")
    points_dir.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        write_json(stamp, {"name": spec.name, "digest": spec.digest(), "spec": spec.to_dict()})
    points = spec.points()
    n = len(points)
    todo = [p for p in points if not _finished(points_dir / f"{p[0]:06d}.json")]
    log.info("%s: %d points, %d to run", spec.name, n, len(todo))
    progress = Progress(n, spec.name, "point", done=n - len(todo))

    def record(index, seed_index, settings, metrics):
        write_json(points_dir / f"{index:06d}.json", {"point": index, "seed_index": seed_index, "settings": settings, "metrics": metrics})
        progress.update(f"point {index} in {metrics.get('time_s', float('nan')):.1f} s")

    try:
        if scheduler:
            _run_dask(spec, todo, n, scheduler, record, worker_timeout_s)
        elif (workers or os.cpu_count() or 1) <= 1 or len(todo) <= 1:
            for index, seed_index, settings in todo:
                record(index, seed_index, settings, run_point(spec.task, settings, point_seed(spec, index, n)))
        else:
            _run_local(spec, todo, n, workers or os.cpu_count(), record)
    finally:
        progress.close()
    return write_results(spec, out)


def _watch_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker process as soon as its parent (the sweep) is gone.

    A killed sweep (SIGKILL, or SIGTERM, which Python does not turn into an
    exception) cannot shut its pool down; without this its workers would run
    on, orphaned.
    """
    import threading

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="neurosim-parent-watch").start()


def _run_local(spec, todo, n, workers, record):
    import multiprocessing

    saved = _single_thread_env()
    try:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(),)
        ) as pool:
            futures = {
                pool.submit(run_point, spec.task, settings, point_seed(spec, index, n)): (index, seed_index, settings)
                for index, seed_index, settings in todo
            }
            try:
                for fut in cf.as_completed(futures):
                    record(*futures[fut], fut.result())
            except cf.process.BrokenProcessPool:
                raise NeurosimError(
                    "a sweep worker process died (killed, or out of memory); finished points are saved: rerun to finish"
                ) from None
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        _restore_env(saved)


def _run_dask(spec, todo, n, scheduler, record, worker_timeout_s):
    try:
        from distributed import Client, wait
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise NeurosimError("--scheduler needs Dask: pip install 'neurosim[cluster]'") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise NeurosimError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    saved = "finished points are saved: rerun the sweep to finish"
    try:
        futures = {}
        for index, seed_index, settings in todo:
            fut = client.submit(run_point, spec.task, settings, point_seed(spec, index, n), pure=False, key=f"{spec.name}-{spec.digest()}-{index}")
            futures[fut] = (index, seed_index, settings)
        pending = set(futures)
        no_workers_since = None
        while pending:
            try:
                done, pending = wait(pending, timeout=min(5.0, worker_timeout_s), return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for fut in done:
                record(*futures[fut], fut.result())
            if done or not pending:
                no_workers_since = None
                continue
            if client.scheduler_info()["workers"]:
                no_workers_since = None
            elif no_workers_since is None:
                no_workers_since = time.monotonic()
            elif time.monotonic() - no_workers_since > worker_timeout_s:
                raise NeurosimError(
                    f"the Dask scheduler at {scheduler} has had no workers for {worker_timeout_s:g} s "
                    f"with {len(pending)} point(s) left; {saved}"
                )
    except KilledWorker as exc:
        raise NeurosimError(f"Dask workers died running a point ({exc}); {saved}") from None
    except cf.CancelledError as exc:  # distributed's Future(s)CancelledError: the scheduler went away, or cancelled them
        lost = "connection-lost" in str(exc)
        what = f"lost the Dask scheduler at {scheduler}" if lost else f"the Dask scheduler at {scheduler} cancelled the points"
        raise NeurosimError(f"{what}; {saved}") from None
    except (OSError, TimeoutError) as exc:
        raise NeurosimError(f"lost the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc}); {saved}") from None
    finally:
        try:
            client.close(timeout=5)
        except (OSError, TimeoutError):
            pass


# -- results -----------------------------------------------------------------
def load_points(out_dir) -> list[dict]:
    """Every finished point record under ``out_dir/points``, in point order."""
    return [json.loads(p.read_text()) for p in sorted(Path(out_dir, "points").glob("*.json")) if _finished(p)]


def _cell(value):
    """A metric as one CSV cell: a list metric (e.g. accuracy per epoch) as its JSON text, ``[0.81, 0.84]``."""
    return json.dumps(value) if isinstance(value, (list, tuple)) else value


def write_results(spec: SweepSpec, out_dir) -> Path:
    """Write ``results.csv``, ``sweep.json`` and (when the spec has one) the plot, from finished points.

    ``results.csv`` has one row per point; a metric that is a list (a learning curve) is one cell
    holding its JSON text."""
    out = Path(out_dir)
    records = load_points(out)
    missing = len(spec.points()) - len(records)
    if missing:
        raise NeurosimError(f"{missing} point(s) of {spec.name} are not finished; rerun the sweep to complete it")
    axes = list(spec.grid)
    # run times stay in the point files: the table depends only on the spec, not on the machine
    metric_keys = sorted({k for r in records for k in r["metrics"]} - {"time_s"})
    csv_path = out / "results.csv"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["point", *axes, "seed_index", *metric_keys])
        for r in records:
            values = (_cell(r["metrics"].get(k)) for k in metric_keys)
            writer.writerow([r["point"], *(r["settings"][a] for a in axes), r["seed_index"], *values])
    os.replace(tmp, csv_path)
    sidecar = {
        "resolved_settings": spec.configurations(),
        "point_seeds": "np.random.SeedSequence(seed).spawn(n_points)[point]",
        "n_points": len(records),
        "compute_time_s": sum(r["metrics"].get("time_s", 0.0) for r in records),
    }
    write_json(out / "sweep.json", with_provenance(sidecar, config=spec, seed=spec.seed))
    if spec.plot:
        from neurosim.plots import plot_sweep, save_figure

        for key in (spec.plot_metric(), spec.plot.get("reference"), spec.plot.get("cost")):
            if key is not None and key not in metric_keys:
                raise NeurosimError(f"{spec.name}: [plot] names metric '{key}', but the task returns {metric_keys}")

        ax = plot_sweep(records, spec)
        save_figure(ax.figure, out / f"{spec.name}.png")
    return csv_path
