"""Bad input, as a hostile user would give it: every case ends in exit status 2 and one line.

Each command-line case runs ``neurosim`` in-process in a fresh folder holding
only the files the case writes (a card, a spec, a model, IDX files), with the
user cache inside that folder too. It asserts exit status 2, nothing on
stdout, exactly one line ``neurosim: error: ...`` on stderr that names the
input as the user gave it, no traceback, and that no file in the folder was
created, changed or removed (so nothing is written outside ``--out``, and for
a refused input, nothing inside it either).
"""

import gzip
import hashlib
import json
import math
import sys

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.data.idx import encode_idx
from neurosim.networks.modelio import weights_sha256
from neurosim.resources import shipped_dir

# -- the harness ---------------------------------------------------------------------------------------------------


def _snapshot(root):
    # matplotlib keeps its font list in the user cache (here inside root) the first time it runs: not neurosim's
    return {
        str(p.relative_to(root)): (p.is_dir(), None if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if str(p.relative_to(root)) != "cache" and not str(p.relative_to(root)).startswith("cache/matplotlib")
    }


def _write(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def run_refused(tmp_path, monkeypatch, capsys, argv, needle, files=None, env=None):
    """Run ``neurosim argv`` in ``tmp_path`` and check the refusal (see the module docstring)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NEUROSIM_MNIST_MIRRORS", "http://127.0.0.1:9/")  # never download
    for key, value in (env or {}).items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value.format(tmp=tmp_path))
    _write(tmp_path, files or {})
    before = _snapshot(tmp_path)
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert out == ""
    assert err.startswith("neurosim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert needle.format(tmp=tmp_path) in err, err
    assert _snapshot(tmp_path) == before
    return err


def cases(table):
    """``pytest.param`` for each ``(id, argv, needle, files)`` row."""
    return [pytest.param(argv, needle, files, id=name) for name, argv, needle, files in table]


# -- device cards --------------------------------------------------------------------------------------------------

CARD = {
    "name": '"c"',
    "g_min_S": "1e-6",
    "g_max_S": "2e-6",
    "levels_ltp": "16",
    "levels_ltd": "16",
}


def card(**changes):
    fields = {**CARD, **changes}
    return "\n".join(f"{k} = {v}" for k, v in fields.items() if v is not None) + "\n"


BAD_CARDS = [
    ("levels_ltp", "1000000000000"), ("levels_ltp", "20000000"), ("levels_ltp", "1e12"), ("levels_ltp", "0"),
    ("levels_ltp", "-3"), ("levels_ltp", "true"), ("levels_ltp", '"16"'), ("levels_ltp", "2.5"),
    ("levels_ltd", "1000000000000"), ("levels_ltd", "0"), ("levels_ltd", "200001"),
    ("g_min_S", "-1e-6"), ("g_min_S", "nan"), ("g_min_S", "inf"), ("g_min_S", '"small"'),
    ("g_max_S", "0.5e-6"), ("g_max_S", "nan"), ("g_max_S", "-inf"),
    ("nl_ltp", "1e9"), ("nl_ltp", "nan"), ("nl_ltd", "-1e9"),
    ("c2c_sigma_frac", "-0.1"), ("read_noise_frac", "-1"), ("prog_noise_frac", "-0.5"),
    ("d2d_g_sigma_frac", "0.9"), ("d2d_nl_sigma_frac", "-1"),
    ("drift_nu", "-0.1"), ("drift_nu_sigma", "-0.01"), ("drift_t0_s", "0"), ("drift_t0_s", "-1"),
    ("stuck_off_frac", "1.5"), ("stuck_on_frac", "-0.1"),
    ("prog_noise", '"bogus"'), ("read_noise", '"loud"'), ("drift", '"sideways"'), ("snap_to_levels", '"yes"'),
    ("name", '""'), ("colour", '"red"'),
]


@pytest.mark.parametrize("command", ["show", "curve"])
@pytest.mark.parametrize("field, value", BAD_CARDS, ids=[f"{f}={v}" for f, v in BAD_CARDS])
def test_bad_card_value(tmp_path, monkeypatch, capsys, command, field, value):
    err = run_refused(tmp_path, monkeypatch, capsys, ["devices", command, "c.toml"], field,
                      {"c.toml": card(**{field: value})})
    assert "c.toml" in err


@pytest.mark.parametrize(
    "content, needle",
    [
        (card(stuck_off_frac="0.6", stuck_on_frac="0.6"), "stuck_on_frac"),
        ("levels_ltp = = 3\n", "c.toml"),
        ("", "c.toml"),
        (b"\x00\xff\xfe binary", "c.toml"),
        (card(g_min_S=None), "g_min_S"),
    ],
    ids=["stuck_sum", "not_toml", "empty", "binary", "missing_field"],
)
def test_malformed_card(tmp_path, monkeypatch, capsys, content, needle):
    run_refused(tmp_path, monkeypatch, capsys, ["devices", "show", "c.toml"], needle, {"c.toml": content})


# -- sweep specs ---------------------------------------------------------------------------------------------------

def spec(top=None, base=None, grid=None, plot=None):
    """A spec's TOML: top-level keys, then [base], [grid] and [plot] tables (None drops a key)."""
    sections = [
        ({"task": '"evaluate"', "seeds": "1", **(top or {})}, ""),
        ({"test_images": "5", **(base or {})}, "[base]"),
        ({"device": '["ideal"]', **(grid or {})}, "[grid]"),
        (plot or {}, "[plot]"),
    ]
    lines = []
    for table, header in sections:
        if header and not table:
            continue
        if header:
            lines.append(header)
        lines += [f'"{k}" = {v}' for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


SPEC_CASES = [
    ("unknown_key", spec({"seedz": "3"}), "seedz"),
    ("no_task", spec({"task": None}), "task"),
    ("unknown_task", spec({"task": '"evaluat"'}), "evaluat"),
    ("task_sqrt", spec({"task": '"math:sqrt"'}), "math:sqrt"),
    ("task_getcwd", spec({"task": '"os:getcwd"'}), "os:getcwd"),
    ("task_no_module", spec({"task": '"nomodule_xyz:run"'}), "nomodule_xyz"),
    ("task_not_callable", spec({"task": '"math:pi"'}), "math:pi"),
    ("task_number", spec({"task": "3"}), "task = 3"),
    ("grid_axis_not_list", spec(grid={"device": '"ideal"'}), "device"),
    ("grid_axis_empty", spec(grid={"device": "[]"}), "device"),
    ("base_and_grid", spec(base={"device": '"ideal"'}), "device"),
    ("seeds_0", spec({"seeds": "0"}), "seeds = 0"),
    ("seeds_negative", spec({"seeds": "-1"}), "seeds = -1"),
    ("seeds_1e8", spec({"seeds": "100000000"}), "seeds = 100000000"),
    ("seeds_float", spec({"seeds": "1.5"}), "seeds = 1.5"),
    ("seeds_bool", spec({"seeds": "true"}), "seeds = True"),
    ("seeds_string", spec({"seeds": '"5"'}), "seeds = '5'"),
    ("seed_negative", spec({"seed": "-1"}), "seed = -1"),
    ("seed_string", spec({"seed": '"zero"'}), "seed = 'zero'"),
    ("too_many_points", spec({"seeds": "10000"}, grid={"device.read_noise_frac": str([0.0] * 101)}), "1010000 points"),
    ("name_absolute", spec({"name": '"{tmp}/elsewhere"'}), "name = "),
    ("name_parent", spec({"name": '"../escape"'}), "../escape"),
    ("name_subfolder", spec({"name": '"a/b"'}), "a/b"),
    ("name_hidden", spec({"name": '".hidden"'}), ".hidden"),
    ("name_empty", spec({"name": '""'}), "name = ''"),
    ("name_number", spec({"name": "5"}), "name = 5"),
    ("description_table", spec({"description": "[1, 2]"}), "description"),
    ("plot_unknown_key", spec(plot={"colour": '"red"'}), "colour"),
    ("plot_x_not_axis", spec(plot={"x": '"seed"'}), "'seed'"),
    ("plot_x_list", spec(plot={"x": '["device"]'}), "[plot] x"),
    ("plot_kind", spec(plot={"kind": '"pie"'}), "pie"),
    ("plot_xscale", spec(plot={"x": '"device"', "xscale": '"loglog"'}), "loglog"),
    ("plot_metric_typo", spec(plot={"x": '"device"', "metric": '"acuracy"'}), "acuracy"),
    ("plot_reference_typo", spec(plot={"x": '"device"', "reference": '"software_acc"'}), "software_acc"),
    ("plot_metric_number", spec(plot={"x": '"device"', "metric": "3"}), "metric = 3"),
    ("plot_title_number", spec(plot={"title": "3"}), "title = 3"),
    ("unknown_base_setting", spec(base={"test_imagez": "5"}), "test_imagez"),
    ("unknown_grid_setting", spec(grid={"crossbar.adc_bitz": "[4]"}), "crossbar.adc_bitz"),
    ("unknown_device", spec(grid={"device": '["ideal", "nodevice"]'}), "nodevice"),
    ("negative_read_noise", spec(grid={"device.read_noise_frac": "[0.0, -0.1]"}), "read_noise_frac"),
    ("test_images_0", spec(base={"test_images": "0"}), "test_images"),
    ("adc_bits_99", spec(base={"crossbar.adc_bits": "99"}), "adc_bits"),
    ("drift_nu_negative", spec(grid={"device.drift_nu": "[-0.05]"}), "drift_nu"),
    ("levels_huge", spec(grid={"device.levels_ltp": "[1000000000000]"}), "levels_ltp"),
    ("tol_frac_string", spec({"task": '"program_error"'}, base={"test_images": None, "tol_frac": '"tight"'},
                             grid={"device": '["sige_epiram"]'}), "tol_frac"),
    ("tol_frac_negative", spec({"task": '"program_error"'}, base={"test_images": None, "tol_frac": "-0.1"},
                               grid={"device": '["sige_epiram"]'}), "tol_frac"),
    ("not_toml", "task = = 3\n", "spec.toml"),
]


@pytest.mark.parametrize("text, needle", [pytest.param(t, n, id=i) for i, t, n in SPEC_CASES])
def test_bad_sweep_spec(tmp_path, monkeypatch, capsys, text, needle):
    run_refused(tmp_path, monkeypatch, capsys, ["sweep", "spec.toml", "--out", "out", "--workers", "1"], needle,
                {"spec.toml": text.replace("{tmp}", str(tmp_path))})


# -- command-line arguments ----------------------------------------------------------------------------------------

GOOD_SPEC = {"spec.toml": spec()}
ARG_CASES = [
    ("evaluate_seed", ["evaluate", "--seed", "-1"], "--seed", None),
    ("evaluate_seed_text", ["evaluate", "--seed", "one"], "--seed", None),
    ("evaluate_adc_0", ["evaluate", "--adc-bits", "0"], "--adc-bits", None),
    ("evaluate_adc_99", ["evaluate", "--adc-bits", "99", "--test-images", "5"], "--adc-bits 99 is not allowed", None),
    ("evaluate_dac_text", ["evaluate", "--dac-bits", "eight"], "--dac-bits", None),
    ("evaluate_time_negative", ["evaluate", "--time", "-1"], "--time", None),
    ("evaluate_time_nan", ["evaluate", "--time", "nan"], "--time", None),
    ("evaluate_time_inf", ["evaluate", "--time", "inf"], "--time", None),
    ("evaluate_test_images_0", ["evaluate", "--test-images", "0"], "--test-images", None),
    ("evaluate_test_images_20000", ["evaluate", "--test-images", "20000"], "--test-images 20000 is not allowed", None),
    ("evaluate_model", ["evaluate", "--model", "nomodel"], "nomodel", None),
    ("evaluate_model_empty", ["evaluate", "--model", ""], "--model", None),
    ("evaluate_model_folder", ["evaluate", "--model", "."], "--model '.'", None),
    ("insitu_checkpoint_text", ["insitu", "--dataset", "digits", "--out", "o"], "not an in-situ training checkpoint",
     {"o/checkpoint.npz": "junk"}),
    ("evaluate_device", ["evaluate", "--device", "nodevice", "--test-images", "5"], "nodevice", None),
    ("evaluate_mapping", ["evaluate", "--mapping", "diagonal"], "--mapping", None),
    ("evaluate_method", ["evaluate", "--method", "guess"], "--method", None),
    ("evaluate_threads", ["evaluate", "--threads", "0"], "--threads", None),
    ("evaluate_threads_many", ["evaluate", "--threads", "100000", "--test-images", "5"], "--threads 100000 is not allowed", None),
    ("evaluate_array", ["evaluate", "--array-size", "0"], "--array-size", None),
    ("evaluate_unknown_option", ["evaluate", "--colour", "red"], "--colour", None),
    ("unknown_command", ["simulate"], "simulate", None),
    ("devices_show_unknown", ["devices", "show", "nodevice"], "nodevice", None),
    ("devices_curve_missing", ["devices", "curve", "missing/card.toml"], "missing/card.toml", None),
    ("devices_curve_cycles", ["devices", "curve", "ideal", "--cycles", "0"], "--cycles", None),
    ("devices_curve_cycles_1e8", ["devices", "curve", "ideal", "--cycles", "100000000"], "--cycles 100000000", None),
    ("snn_steps_1e9", ["snn", "--steps", "1000000000", "--out", "o"], "--steps 1000000000", None),
    ("insitu_images_1e12", ["insitu", "--dataset", "digits", "--images-per-epoch", "1000000000000"],
     "--images-per-epoch 1000000000000", None),
    ("insitu_epochs_1e12", ["insitu", "--dataset", "digits", "--epochs", "1000000000000"], "--epochs 1000000000000", None),
    ("devices_curve_suffix", ["devices", "curve", "ideal", "-o", "curve.bmpx"], "curve.bmpx", None),
    ("devices_curve_out_in_file", ["devices", "curve", "ideal", "-o", "afile/curve.png"], "afile", {"afile": "x"}),
    ("sweep_missing_spec", ["sweep", "nospec.toml"], "nospec.toml", None),
    ("sweep_workers_0", ["sweep", "spec.toml", "--workers", "0"], "--workers", GOOD_SPEC),
    ("sweep_scheduler_word", ["sweep", "spec.toml", "--scheduler", "notaurl"], "notaurl", GOOD_SPEC),
    ("sweep_scheduler_no_port", ["sweep", "spec.toml", "--scheduler", "tcp://host"], "tcp://host", GOOD_SPEC),
    ("sweep_scheduler_port", ["sweep", "spec.toml", "--scheduler", "tcp://h:99999"], "tcp://h:99999", GOOD_SPEC),
    ("sweep_scheduler_http", ["sweep", "spec.toml", "--scheduler", "http://h:80"], "http://h:80", GOOD_SPEC),
    ("sweep_out_file", ["sweep", "spec.toml", "--out", "afile"], "afile", {**GOOD_SPEC, "afile": "x"}),
    ("sweep_out_under_file", ["sweep", "spec.toml", "--out", "afile/sub"], "afile/sub", {**GOOD_SPEC, "afile": "x"}),
    ("sweep_other_spec_results", ["sweep", "spec.toml", "--out", "out"], "different spec",
     {**GOOD_SPEC, "out/spec.json": json.dumps({"name": "other", "digest": "0"})}),
    ("snn_steps_0", ["snn", "--steps", "0"], "--steps", None),
    ("snn_checkpoints", ["snn", "--checkpoints", "ten"], "--checkpoints", None),
    ("snn_percentile", ["snn", "--percentile", "200"], "--percentile", None),
    ("snn_read_noise", ["snn", "--read-noise", "-1"], "--read-noise", None),
    ("snn_device_noise", ["snn", "--device", "sige_epiram:-1"], "sige_epiram:-1", None),
    ("snn_device_unknown", ["snn", "--device", "nodevice", "--test-images", "5", "--out", "o"], "nodevice", None),
    ("snn_batch", ["snn", "--batch-size", "0"], "--batch-size", None),
    ("snn_out_file", ["snn", "--out", "afile"], "afile", {"afile": "x"}),
    ("snn_test_images", ["snn", "--test-images", "20000", "--steps", "2", "--out", "o"], "--test-images 20000 is not allowed", None),
    ("insitu_software_device", ["insitu", "--software", "--device", "bogus"], "--device bogus", None),
    ("insitu_software_adc", ["insitu", "--software", "--dataset", "digits", "--adc-bits", "4"], "adc_bits", None),
    ("insitu_software_mapping", ["insitu", "--software", "--dataset", "digits", "--mapping", "differential"], "mapping", None),
    ("insitu_epochs", ["insitu", "--epochs", "0"], "--epochs", None),
    ("insitu_lr", ["insitu", "--lr-hidden", "-1"], "--lr-hidden", None),
    ("insitu_momentum_nan", ["insitu", "--momentum", "nan"], "--momentum", None),
    ("insitu_set_unknown", ["insitu", "--dataset", "digits", "--set", "colour=1"], "colour", None),
    ("insitu_set_no_value", ["insitu", "--set", "nonsense"], "nonsense", None),
    ("insitu_set_device", ["insitu", "--set", "device=ideal"], "--set device", None),
    ("insitu_dataset", ["insitu", "--dataset", "cifar"], "--dataset", None),
    ("insitu_out_file", ["insitu", "--out", "afile"], "afile", {"afile": "x"}),
    ("insitu_device_unknown", ["insitu", "--dataset", "digits", "--device", "nodevice"], "nodevice", None),
    ("logic_gates_device", ["logic", "gates", "--device", "nodevice"], "nodevice", None),
    ("logic_count_inputs", ["logic", "count", "--inputs", "9"], "9", None),
    ("logic_mnist_test_images", ["logic", "mnist", "--test-images", "20000"], "--test-images 20000 is not allowed", None),
    ("train_reference_out_file", ["train-reference", "--out", "afile"], "afile", {"afile": "x"}),
]


@pytest.mark.parametrize("argv, needle, files", cases(ARG_CASES))
def test_bad_argument(tmp_path, monkeypatch, capsys, argv, needle, files):
    run_refused(tmp_path, monkeypatch, capsys, argv, needle, files)


# -- model files ---------------------------------------------------------------------------------------------------


def _model_files(**arrays):
    """mlp784's sidecar with the given weight arrays (W0, b0, W1, b1) as m.npz / m.json."""
    import io

    sidecar = json.loads((shipped_dir("models") / "mlp784.json").read_text())
    sidecar["layers"] = [
        {"kind": "dense", "activation": a, "inputs": int(arrays[f"W{i}"].shape[1]), "outputs": int(arrays[f"W{i}"].shape[0])}
        for i, a in enumerate(("relu", "linear"))
    ]
    sidecar["weights_sha256"] = weights_sha256([(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(2) if f"b{i}" in arrays])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return {"m.npz": buf.getvalue(), "m.json": json.dumps(sidecar)}


def _weights(hidden=10, n_in=784, dtype=np.float32, fill=0.1):
    return {"W0": np.full((hidden, n_in), fill, dtype), "b0": np.zeros(hidden, dtype),
            "W1": np.full((10, hidden), fill, dtype), "b1": np.zeros(10, dtype)}


MODEL_CASES = [
    ("text_npz", {"m.npz": "hello\n", "m.json": (shipped_dir("models") / "mlp784.json").read_text()}, "not an npz file"),
    ("no_sidecar", {"m.npz": _model_files(**_weights())["m.npz"]}, "m.json"),
    ("sidecar_not_json", {**_model_files(**_weights()), "m.json": "{not json"}, "m.json"),
    ("sidecar_other_format", {**_model_files(**_weights()), "m.json": json.dumps({"format": "keras"})}, "m.json"),
    ("hidden_width_0", _model_files(**_weights(hidden=0)), "at least one"),
    ("nan_weights", _model_files(**_weights(fill=np.nan)), "NaN"),
    ("integer_weights", _model_files(**_weights(dtype=np.int64, fill=1)), "floats"),
    ("object_weights", _model_files(**{**_weights(), "W0": np.array([None] * 7840, object).reshape(10, 784)}),
     "not numeric"),
    ("missing_array", _model_files(**{k: v for k, v in _weights().items() if k != "b1"}), "m.npz"),
    ("wrong_input_width", _model_files(**_weights(n_in=400)), "400 inputs"),
]


@pytest.mark.parametrize("command", [["evaluate", "--test-images", "5"], ["snn", "--steps", "2", "--test-images", "5", "--out", "o"]],
                         ids=["evaluate", "snn"])
@pytest.mark.parametrize("files, needle", [pytest.param(f, n, id=i) for i, f, n in MODEL_CASES])
def test_bad_model_file(tmp_path, monkeypatch, capsys, command, files, needle):
    run_refused(tmp_path, monkeypatch, capsys, [*command, "--model", "m.npz"], needle, files)


# -- MNIST files and NEUROSIM_DATA ---------------------------------------------------------------------------------


def _idx_split(split, images, labels, gz=True):
    names = {"test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
             "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")}[split]
    enc = (lambda b: gzip.compress(b, mtime=0)) if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    return {f"data/{names[0]}{suffix}": enc(encode_idx(images)), f"data/{names[1]}{suffix}": enc(encode_idx(labels))}


def _both_splits(images, labels):
    return {**_idx_split("test", images, labels), **_idx_split("train", images, labels)}


_IMG = np.zeros((4, 28, 28), np.uint8)
_LAB = np.array([0, 1, 2, 3], np.uint8)
MNIST_CASES = [
    ("env_empty_folder", {"data/.keep": ""}, "data"),
    ("env_is_file", {"data": "not a folder"}, "NEUROSIM_DATA"),
    ("env_missing", {}, "NEUROSIM_DATA"),
    ("zero_images", _both_splits(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)), "0 images"),
    ("label_10", _both_splits(_IMG, np.array([0, 1, 2, 10], np.uint8)), "label 10"),
    ("small_images", _both_splits(np.zeros((4, 10, 10), np.uint8), _LAB), "(n, 28, 28)"),
    ("count_mismatch", {**_idx_split("test", _IMG, _LAB[:3]), **_idx_split("train", _IMG, _LAB[:3])}, "labels"),
    ("float_images", _both_splits(np.zeros((4, 28, 28), np.float32), _LAB), "uint8"),
    ("bad_magic", {"data/t10k-images-idx3-ubyte": b"\x01\x02\x03\x04" * 8, "data/t10k-labels-idx1-ubyte": b"\x00" * 9,
                   "data/train-images-idx3-ubyte": b"\x01\x02\x03\x04" * 8, "data/train-labels-idx1-ubyte": b"\x00" * 9},
     "idx3-ubyte"),
    ("truncated", {**{k: v[: len(v) // 2] for k, v in _idx_split("test", _IMG, _LAB, gz=False).items()},
                   **{k: v[: len(v) // 2] for k, v in _idx_split("train", _IMG, _LAB, gz=False).items()}}, "idx3-ubyte"),
]


@pytest.fixture
def fresh_mnist_caches():
    """Forget the test sets that evaluate, logic mnist and insitu keep per process (this process ran them before)."""
    from neurosim.convert import evaluate
    from neurosim.networks.insitu import tasks
    from neurosim.networks.threshold import mnist

    caches = (evaluate._test_set, mnist._test_set, tasks._data)
    for f in caches:
        f.cache_clear()
    yield
    for f in caches:
        f.cache_clear()


@pytest.mark.usefixtures("fresh_mnist_caches")
@pytest.mark.parametrize("command", [["evaluate", "--test-images", "2"], ["insitu", "--epochs", "1", "--test-images", "2"],
                                     ["logic", "mnist", "--test-images", "2"]], ids=["evaluate", "insitu", "logic"])
@pytest.mark.parametrize("files, needle", [pytest.param(f, n, id=i) for i, f, n in MNIST_CASES])
def test_bad_mnist_data(tmp_path, monkeypatch, capsys, command, files, needle):
    run_refused(tmp_path, monkeypatch, capsys, command, needle, files, env={"NEUROSIM_DATA": "{tmp}/data"})


# -- the Python API --------------------------------------------------------------------------------------------------


def test_api_refusals_name_the_value(tmp_path):
    import dataclasses

    from neurosim.device import load_device
    from neurosim.errors import NeurosimError
    from neurosim.sweep import SweepSpec, run_sweep

    ideal = load_device("ideal")
    for field, value in (("levels_ltp", 10**12), ("drift_nu", -0.1), ("levels_ltd", 0)):
        with pytest.raises(NeurosimError, match=field):
            dataclasses.replace(ideal, **{field: value})
    good = SweepSpec(name="ok", task="evaluate", base={"test_images": 2}, grid={"device": ["ideal"]}, seeds=1)
    for kwargs, needle in (({"workers": 0}, "workers"), ({"scheduler": "notaurl"}, "notaurl"),
                           ({"worker_timeout_s": math.nan}, "worker_timeout_s")):
        with pytest.raises(NeurosimError, match=needle):
            run_sweep(good, tmp_path / "out", **kwargs)
    for kwargs, needle in (({"name": "../up"}, "name"), ({"name": "/abs"}, "name"), ({"seeds": 10**8}, "seeds"),
                           ({"plot": {"x": "nope"}}, "grid axes"), ({"task": 3}, "task")):
        with pytest.raises(NeurosimError, match=needle):
            dataclasses.replace(good, **kwargs)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NeurosimError, match="afile"):
        run_sweep(good, tmp_path / "afile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_console_script_prints_no_traceback(tmp_path):
    """The real process (not in-process main): one line and status 2 for a card that once crashed it."""
    import subprocess

    (tmp_path / "c.toml").write_text(card(levels_ltp="1000000000000"))
    done = subprocess.run([sys.executable, "-m", "neurosim.cli", "devices", "show", "c.toml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "levels_ltp" in done.stderr
