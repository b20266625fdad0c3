"""The neurosim command: device subcommands, JSON output, one-line errors."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.device import list_cards, load_device
from neurosim.device.cycling import model_cycle_S


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_devices_list(capsys):
    code, out, _ = run(capsys, "devices", "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list_cards()
    code, out, _ = run(capsys, "devices", "list", "--json")
    assert [row["name"] for row in json.loads(out)] == list_cards()


def test_devices_show_json(capsys):
    code, out, _ = run(capsys, "devices", "show", "sige_epiram", "--json")
    info = json.loads(out)
    assert code == 0
    assert info["levels_ltp"] == 64 and info["prog_noise"] == "none"
    assert info["first_ltp_step_S"] == pytest.approx(228.3e-9, abs=0.1e-9)
    assert info["on_off_ratio"] == pytest.approx(50.2)


def test_devices_curve_noiseless_is_the_model(capsys):
    code, out, _ = run(capsys, "devices", "curve", "sige_epiram", "--noiseless", "--json")
    data = json.loads(out)
    assert code == 0 and data["cycles"] == 1 and "conductance_std_S" not in data
    np.testing.assert_allclose(data["conductance_S"], model_cycle_S(load_device("sige_epiram")), rtol=1e-12)
    assert data["conductance_S"][64] == pytest.approx(12.35e-6, rel=1e-3)
    assert data["phase"][1] == "potentiation" and data["phase"][-1] == "depression"


def test_devices_curve_cycles_spread_and_plot(capsys, tmp_path):
    png = tmp_path / "curve.png"
    code, out, _ = run(capsys, "devices", "curve", "sige_epiram", "--cycles", "20", "--seed", "3", "--json", "-o", str(png))
    data = json.loads(out)
    assert code == 0 and data["cycles"] == 20 and len(data["conductance_std_S"]) == 129
    std = np.array(data["conductance_std_S"])
    # single-pulse C2C noise of 242 nS accumulates along the train
    assert 0.1e-6 < np.median(std) < 3e-6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    code2, out2, _ = run(capsys, "devices", "curve", "sige_epiram", "--cycles", "20", "--seed", "3", "--json")
    assert json.loads(out2)["conductance_S"] == data["conductance_S"]  # reproducible from the seed


def test_devices_curve_csv(capsys):
    code, out, _ = run(capsys, "devices", "curve", "ideal", "--noiseless")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "pulse,phase,conductance_S,conductance_std_S,model_S"
    assert len(lines) == 1 + 2049
    assert float(lines[1025].split(",")[2]) == pytest.approx(10e-6)


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["devices", "show", "nope"], "unknown device 'nope'"),
        (["devices", "curve", "missing/card.toml"], "no such device card"),
    ],
)
def test_user_errors_are_one_line(capsys, argv, pattern):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("neurosim: error:") and pattern in err and err.count("\n") == 1


def test_bad_card_file_one_line(capsys, tmp_path):
    card = tmp_path / "c.toml"
    card.write_text('name = "c"\ng_min_S = 2e-6\ng_max_S = 1e-6\nlevels_ltp = 4\nlevels_ltd = 4\n')
    code, _, err = run(capsys, "devices", "show", str(card))
    assert code == 2 and str(card) in err and "g_max_S" in err and err.count("\n") == 1


def test_bad_cycles_rejected(capsys):
    with pytest.raises(SystemExit) as info:
        main(["devices", "curve", "ideal", "--cycles", "0"])
    assert info.value.code == 2


@pytest.mark.skipif(shutil.which("neurosim") is None, reason="console script not installed")
def test_console_script():
    done = subprocess.run(["neurosim", "devices", "show", "nope"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_bad_plot_suffix_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:  # refused by the argument parser, before the curve is computed
        main(["devices", "curve", "ideal", "-o", "curve.xyz"])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == "" and "suffixes" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["devices", "curve", "ideal"], ["evaluate"], ["logic", "gates"], ["snn"], ["insitu"]])
def test_negative_seeds_are_refused_by_every_command(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--seed", "-1"])
    assert info.value.code == 2 and "expected a whole number >= 0" in capsys.readouterr().err


def test_json_results_carry_the_shared_provenance(capsys):
    from neurosim.provenance import PROVENANCE_KEYS, git_state

    assert main(["logic", "count", "--inputs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(PROVENANCE_KEYS) <= set(out) and (out["functions"], out["unrestricted"]) == (16, 14)
    assert out["config"]["inputs"] == 2 and out["seed"] is None
    assert {k: out[k] for k in ("git_revision", "git_dirty")} == git_state()


def test_evaluate_takes_any_crossbar_setting(capsys):
    """``--set crossbar.cell_r_series_ohm=...``: the series resistor is physics for inference too; bad values are one line."""
    assert main(["evaluate", "--test-images", "20", "--set", "crossbar.cell_r_series_ohm=15e3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["crossbar.cell_r_series_ohm"] == 15e3 and out["config"]["crossbar"]["cell_r_series_ohm"] == 15e3
    code, _, err = run(capsys, "evaluate", "--test-images", "20", "--set", "crossbar.cell_r_series_ohm=-1")
    assert code == 2 and "cell_r_series_ohm" in err and err.count("\n") == 1


def test_help_texts_and_readme_name_only_specs_that_exist():
    """`sweep --help` once named experiments/sige_prog_noise.toml, which did not exist."""
    import re
    from pathlib import Path

    from neurosim.cli import build_parser

    root = Path(__file__).resolve().parents[1]
    parser = build_parser()
    texts = [(root / "README.md").read_text()]
    stack = [parser]
    while stack:
        p = stack.pop()
        texts.append(p.format_help())
        for action in p._actions:
            if isinstance(action.choices, dict):
                stack += action.choices.values()
    named = {m for t in texts for m in re.findall(r"experiments/(\w+)\.toml", t.replace("\n", " "))}
    assert "accuracy_vs_prog_noise" in named
    named.discard("SPEC")  # the placeholder of the usage lines
    assert [n for n in sorted(named) if not (root / "experiments" / f"{n}.toml").exists()] == []
