"""The sweep engine: spec validation, seeds per point, resume, local and Dask executors."""

import json
import signal
import subprocess
import sys
import time

import pytest

from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.sweep import load_points, load_spec, parse_spec, run_sweep

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
    data = {"task": "program_error", "base": {"device": "ideal", "n_devices": 10}, "grid": {"tol_frac": [0.1]}, "seeds": 1, "plot": {"x": "tol_frac"}}
    with pytest.raises(NeurosimError, match="metric 'accuracy'"):
        run_sweep(parse_spec(data, "spec.toml"), tmp_path / "m", workers=1)
