"""The sweep engine: spec validation, seeds per point, resume, local and Dask executors."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.sweep import SweepSpec, load_points, load_spec, parse_spec, run_sweep
from neurosim.tasks import TASKS, Task, resolve_task

SPEC = """
name = "wv"
task = "program_error"
seeds = 2
[base]
device = "sige_epiram"
n_devices = {n}
[grid]
tol_frac = [0.02, 0.05]
method = ["write_verify", "open_loop"]
[plot]
x = "tol_frac"
series = "method"
metric = "rms_error_frac"
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "wv.toml"
    path.write_text(SPEC.format(n=300))
    return path


def test_one_and_two_workers_give_identical_tables(spec_file, tmp_path):
    spec = load_spec(spec_file)
    one = run_sweep(spec, tmp_path / "one", workers=1)
    two = run_sweep(spec, tmp_path / "two", workers=2)
    assert one.read_text() == two.read_text()
    lines = one.read_text().splitlines()
    assert lines[0] == "point,tol_frac,method,seed_index,fraction_converged,mean_pulses,rms_error_frac"
    assert len(lines) == 1 + 8
    assert (tmp_path / "one" / "wv.png").stat().st_size > 10_000
    sidecar = json.loads((tmp_path / "one" / "sweep.json").read_text())
    assert sidecar["seed"] == 0 and sidecar["versions"]["numpy"] and len(sidecar["resolved_settings"]) == 4
    # seeds differ between points: the two seeds of a configuration give different errors
    rows = [line.split(",") for line in lines[1:]]
    assert rows[0][-1] != rows[1][-1]


def test_rerun_skips_finished_points(spec_file, tmp_path):
    spec = load_spec(spec_file)
    out = tmp_path / "r"
    run_sweep(spec, out, workers=1)
    table = (out / "results.csv").read_text()
    files = sorted((out / "points").glob("*.json"))
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    files[3].unlink()
    files[5].unlink()
    run_sweep(spec, out, workers=1)
    after = {f.name: f.stat().st_mtime_ns for f in (out / "points").glob("*.json")}
    assert set(after) == set(stamps)
    changed = {k for k in after if after[k] != stamps[k]}
    assert changed == {files[3].name, files[5].name}
    assert (out / "results.csv").read_text() == table  # recomputed points are identical (seeded by index)


def test_killed_sweep_resumes_without_recomputing(tmp_path):
    spec_path = tmp_path / "slow.toml"
    spec_path.write_text(SPEC.format(n=30000).replace("seeds = 2", "seeds = 3"))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "neurosim.cli", "sweep", str(spec_path), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list((out / "points").glob("*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.read_text() for p in (out / "points").glob("*.json")}
    assert 2 <= len(finished) < 12
    assert not (out / "results.csv").exists()
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1"]) == 0
    for name, text in finished.items():
        assert (out / "points" / name).read_text() == text
    assert len(load_points(out)) == 12


def test_changed_spec_refuses_old_results(spec_file, tmp_path):
    run_sweep(load_spec(spec_file), tmp_path / "o", workers=1)
    spec_file.write_text(SPEC.format(n=301))
    with pytest.raises(NeurosimError, match="different spec"):
        run_sweep(load_spec(spec_file), tmp_path / "o", workers=1)


BAD_SPECS = [
    ({"task": "program_error", "grid": {}}, "grid.*empty"),
    ({"task": "program_error", "grid": {"tol_frac": [0.1]}, "colour": 1}, "unknown key"),
    ({"task": "program_error", "base": {"device": "nope"}, "grid": {"tol_frac": [0.1]}}, "unknown device 'nope'"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"device.bogus": [1]}}, "unknown field 'bogus'"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"speed": [1]}}, "unknown setting 'speed'"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"method": ["magic"]}}, "method"),
    ({"task": "nope", "grid": {"x": [1]}}, "unknown task"),
    ({"grid": {"x": [1]}}, "missing key 'task'"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"tol_frac": 0.1}}, "non-empty list"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"tol_frac": [0.1]}, "seeds": 0}, "seeds"),
    ({"task": "program_error", "base": {"device": "ideal", "tol_frac": 1}, "grid": {"tol_frac": [0.1]}}, "both"),
    ({"task": "program_error", "base": {"device": "ideal"}, "grid": {"device.c2c_sigma_frac": [-1]}}, "c2c_sigma_frac"),
]


@pytest.mark.parametrize("data, pattern", BAD_SPECS)
def test_bad_specs_are_rejected(data, pattern):
    with pytest.raises(NeurosimError, match=pattern):
        parse_spec(data, "spec.toml")


def test_cli_bad_spec_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('task = "program_error"\n[grid]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "grid" in err


def test_dask_cluster_gives_the_same_table(spec_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = load_spec(spec_file)
    local = run_sweep(spec, tmp_path / "local", workers=1).read_text()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        remote = run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address).read_text()
    assert remote == local


def test_torn_point_file_is_recomputed(spec_file, tmp_path):
    spec = load_spec(spec_file)
    out = tmp_path / "t"
    table = run_sweep(spec, out, workers=1).read_text()
    torn = out / "points" / "000002.json"
    torn.write_text('{"point": 2, "metr')  # a crash mid-write on a file system without atomic rename
    assert len(load_points(out)) == 7
    assert run_sweep(spec, out, workers=1).read_text() == table


@pytest.mark.parametrize(
    "plot, pattern",
    [
        ({"x": "speed"}, "grid axes"),
        ({"x": "tol_frac", "kind": "pie"}, "kind"),
        ({"x": "tol_frac", "xscale": "cubic"}, "xscale"),
    ],
)
def test_bad_plot_options_fail_before_any_point_runs(plot, pattern):
    data = {"task": "program_error", "base": {"device": "ideal"}, "grid": {"tol_frac": [0.1]}, "plot": plot}
    with pytest.raises(NeurosimError, match=pattern):
        parse_spec(data, "spec.toml")


def test_plot_metric_must_exist(tmp_path):
    data = {"task": "program_error", "base": {"device": "ideal", "n_devices": 10}, "grid": {"tol_frac": [0.1]}, "seeds": 1,
            "plot": {"x": "tol_frac", "metric": "accuracy"}}
    with pytest.raises(NeurosimError, match="metric 'accuracy', but task 'program_error' returns"):
        parse_spec(data, "spec.toml")
    del data["plot"]["metric"]  # the task's own plot metric
    run_sweep(parse_spec(data, "spec.toml"), tmp_path / "m", workers=1)
    assert (tmp_path / "m" / "spec.png").exists()


# -- tasks -------------------------------------------------------------------
CALLS = []


def _counting_run(settings, rng):
    CALLS.append(dict(settings))
    return {"score": float(rng.uniform())}


def _plain_run(settings, rng):
    return {"anything": 1.0}


def _check_level(settings):
    if not 0 <= settings.get("level", 0) <= 3:
        raise NeurosimError(f"level = {settings['level']!r} must lie in [0, 3]")


#: A declared user task (module:attribute path ``tests.test_sweep:COUNTING``).
COUNTING = Task(name="counting", run=_counting_run, plain_settings={"level"}, setting_groups=("device",),
                check=_check_level, metrics=("score",), plot_metric="score")


@pytest.fixture
def counting_task(monkeypatch):
    monkeypatch.setitem(TASKS, "counting", f"{__name__}:COUNTING")
    CALLS.clear()
    return COUNTING


@pytest.mark.parametrize(
    "grid, pattern",
    [
        ({"level": [1, 2], "speed": [1]}, "unknown setting 'speed'; allowed: \\['level'\\] or \\['device.\\*'\\]"),
        ({"level": [1, 7]}, "level = 7 must lie in"),
        ({"wire.r_wire_ohm": [1.0]}, "unknown setting 'wire.r_wire_ohm'; dotted settings start with \\['device'\\]"),
    ],
)
def test_a_bad_setting_fails_before_any_point_runs(counting_task, tmp_path, grid, pattern):
    spec = SweepSpec(name="c", task="counting", base={}, grid=grid, seeds=2)
    with pytest.raises(NeurosimError, match=pattern):
        run_sweep(spec, tmp_path / "c", workers=1)
    assert CALLS == [] and not (tmp_path / "c").exists()
    with pytest.raises(NeurosimError, match=pattern):
        parse_spec({"task": "counting", "grid": grid})


def test_plot_metric_the_task_does_not_return_fails_before_running(counting_task, tmp_path):
    with pytest.raises(NeurosimError, match="\\[plot\\] names metric 'accuracy', but task 'counting' returns \\['score'\\]"):
        parse_spec({"task": "counting", "grid": {"level": [1]}, "plot": {"metric": "accuracy"}})
    spec = parse_spec({"task": "counting", "grid": {"level": [1, 2]}, "plot": {"x": "level"}})
    assert spec.plot_metric() == "score"  # the task's default plot metric
    run_sweep(spec, tmp_path / "ok", workers=1)
    assert len(CALLS) == 2 * 5 and (tmp_path / "ok" / "results.csv").exists()


def test_tasks_resolve_to_task_objects():
    for name in TASKS:
        assert resolve_task(name).name == name
    # a module:function path to a shipped task's run function is checked like its short name
    assert resolve_task("neurosim.device.experiments:program_error_point") is resolve_task("program_error")
    assert resolve_task(f"{__name__}:_counting_run") is COUNTING
    # a plain user function accepts any settings and declares no metrics
    user = resolve_task(f"{__name__}:_plain_run")
    assert user.plain_settings is None and user.returns("anything")
    user.validate({"whatever": 1})
    with pytest.raises(NeurosimError, match="unknown task 'nope'; known tasks: evaluate, insitu"):
        resolve_task("nope")
    with pytest.raises(NeurosimError, match="cannot be loaded"):
        resolve_task("neurosim.sweep:no_such_task")


# -- provenance --------------------------------------------------------------
def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_git_state_gives_the_revision_and_a_dirty_mark(tmp_path):
    from neurosim.provenance import git_state

    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "results.csv").write_text("untracked output does not count")
    assert git_state(tmp_path) == {"git_revision": head, "git_dirty": False}
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path) == {"git_revision": head, "git_dirty": True}
    assert git_state("/") == {"git_revision": None, "git_dirty": None}  # not in a repository
    # an installed (non-editable) package in an untracked site-packages inside some other repository
    installed = tmp_path / "venv" / "lib" / "site-packages" / "neurosim"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert git_state(installed) == {"git_revision": None, "git_dirty": None}


def test_sweep_sidecar_has_the_provenance_of_the_source_tree(counting_task, tmp_path):
    from neurosim.provenance import PROVENANCE_KEYS, git_state

    spec = parse_spec({"name": "c", "task": "counting", "seed": 7, "seeds": 1, "grid": {"level": [1]}})
    run_sweep(spec, tmp_path / "c", workers=1)
    sidecar = json.loads((tmp_path / "c" / "sweep.json").read_text())
    assert set(PROVENANCE_KEYS) <= set(sidecar)
    assert sidecar["seed"] == 7 and sidecar["config"]["task"] == "counting" and sidecar["config"]["grid"] == {"level": [1]}
    assert {k: sidecar[k] for k in ("git_revision", "git_dirty")} == git_state()
    assert sidecar["versions"]["numpy"] == np.__version__


def test_insitu_run_json_has_the_shared_provenance(tmp_path):
    from neurosim.networks.insitu.config import InsituConfig
    from neurosim.networks.insitu.data import digits_data
    from neurosim.networks.insitu.train import train_software
    from neurosim.provenance import PROVENANCE_KEYS, git_state

    config = InsituConfig(sizes=(64, 8, 10), epochs=1, images_per_epoch=50)
    train_software(config, rng=3, data=digits_data(), out_dir=tmp_path, progress=False)
    summary = json.loads((tmp_path / "run.json").read_text())
    assert set(PROVENANCE_KEYS) <= set(summary) and summary["seed"] == 3 and summary["complete"] is True
    assert summary["config"]["sizes"] == [64, 8, 10]
    assert {k: summary[k] for k in ("git_revision", "git_dirty")} == git_state()


def test_plot_style_axis_gives_one_colour_per_series_and_one_line_style_per_style_value():
    from neurosim.plots import plot_sweep

    data = {"task": "evaluate", "seeds": 2, "grid": {"model": ["lenet5", "mlp784"], "device": ["sige_epiram", "ideal"],
                                                     "device.read_noise_frac": [0.0, 0.1]},
            "plot": {"x": "device.read_noise_frac", "series": "model", "style": "device", "reference": "software_accuracy"}}
    spec = parse_spec(data, "spec.toml")
    records = [{"settings": s, "metrics": {"accuracy": 0.9 - 0.1 * s["device.read_noise_frac"] + 0.01 * seed,
                                           "software_accuracy": 0.99 if s["model"] == "lenet5" else 0.98}}
               for _, seed, s in spec.points()]
    ax = plot_sweep(records, spec)
    curves = [container.lines[0] for container in ax.containers]  # one errorbar line per (series, style)
    assert len(curves) == 4
    looks = {(line.get_color(), line.get_linestyle()) for line in curves}
    assert len({c for c, _ in looks}) == 2 and len({s for _, s in looks}) == 2 and len(looks) == 4
    labels = ax.get_legend_handles_labels()[1]
    assert "model = lenet5, device = ideal" in labels and sum("software accuracy" in t for t in labels) == 2
    with pytest.raises(NeurosimError, match="grid axes"):
        parse_spec({**data, "plot": {"style": "speed"}}, "spec.toml")
