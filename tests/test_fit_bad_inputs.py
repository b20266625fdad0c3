"""Bad pulse-train files and measured cards, as a user would give them: one line, exit status 2, nothing written
(the harness of test_bad_inputs.py)."""

import pytest

from test_bad_inputs import card, run_refused

HEAD = "pulse,phase,G1 (uS)\n"


def rows(n_up=6, n_down=6, start=1.0, step=0.1, unit_header=HEAD):
    """A clean file: n_up potentiation then n_down depression readings after a start reading."""
    lines = [unit_header, f"0,start,{start}\n"]
    g = start
    for k in range(1, n_up + n_down + 1):
        g += step if k <= n_up else -step
        lines.append(f"{k},{'potentiation' if k <= n_up else 'depression'},{g:.4f}\n")
    return "".join(lines)


GOOD = rows()
FIT_CASES = [
    ("missing_file", "nofile.csv", "no such data file", {}),
    ("folder", "adir", "is a folder", {"adir/x": "1"}),
    ("empty", "d.csv", "no data", {"d.csv": ""}),
    ("comments_only", "d.csv", "no data", {"d.csv": "# nothing\n# here\n"}),
    ("binary", "d.csv", "d.csv", {"d.csv": b"\xff\xfe\x00\x81binary"}),
    ("no_header", "d.csv", "no header row", {"d.csv": GOOD.split("\n", 1)[1]}),
    ("no_pulse_column", "d.csv", "pulse-number column", {"d.csv": GOOD.replace("pulse,", "count,", 1)}),
    ("no_trace_column", "d.csv", "no trace columns", {"d.csv": "pulse,phase\n0,start\n1,ltp\n"}),
    ("no_unit", "d.csv", "has no unit", {"d.csv": GOOD.replace("G1 (uS)", "G1")}),
    ("unknown_unit", "d.csv", "unknown unit 'furlong'", {"d.csv": GOOD.replace("(uS)", "(furlong)")}),
    ("kilo_siemens", "d.csv", "unknown unit 'kS'", {"d.csv": GOOD.replace("(uS)", "(kS)")}),
    ("current_no_voltage", "d.csv", "--read-voltage", {"d.csv": GOOD.replace("(uS)", "(uA)")}),
    ("non_numeric", "d.csv", "line 5, column 'G1 (uS)': 'abc' is not a number",
     {"d.csv": GOOD.replace("\n3,potentiation,1.3000", "\n3,potentiation,abc")}),
    ("nan_cell", "d.csv", "not a finite number", {"d.csv": GOOD.replace("\n3,potentiation,1.3000", "\n3,potentiation,nan")}),
    ("ragged_row", "d.csv", "line 4 has 4 cells", {"d.csv": GOOD.replace("\n2,potentiation,1.2000", "\n2,potentiation,1.2,7")}),
    ("pulse_skips", "d.csv", "count up by one", {"d.csv": GOOD.replace("\n4,potentiation", "\n5,potentiation")}),
    ("bad_phase", "d.csv", "phase 'sideways'", {"d.csv": GOOD.replace("\n4,potentiation", "\n4,sideways")}),
    ("negative_conductance", "d.csv", "below 0", {"d.csv": rows(start=-0.05)}),
    ("zero_resistance", "d.csv", "must be > 0", {"d.csv": rows(unit_header="pulse,phase,R (kohm)\n", start=0.0)}),
    ("never_changes", "d.csv", "never changes", {"d.csv": rows(step=0.0)}),
    ("too_few_pulses", "d.csv", "too few pulses: 6 potentiation and 2 depression", {"d.csv": rows(6, 2)}),
    ("no_turning_point", "d.csv", "too few pulses", {"d.csv": "pulse,G (uS)\n" + "".join(f"{k},{1 + 0.1 * k}\n" for k in range(20))}),
]


@pytest.mark.parametrize("data, needle, files", [pytest.param(d, n, f, id=i) for i, d, n, f in FIT_CASES])
def test_bad_data_file(tmp_path, monkeypatch, capsys, data, needle, files):
    err = run_refused(tmp_path, monkeypatch, capsys, ["devices", "fit", data, "--out", "card.toml"], needle, files)
    assert data in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["devices", "fit", "d.csv"], "--out"),
        (["devices", "fit", "d.csv", "--out", "card.txt"], "card.txt"),
        (["devices", "fit", "d.csv", "--out", "nodir/card.toml"], "nodir/card.toml"),
        (["devices", "fit", "d.csv", "--out", "c.toml", "--read-voltage", "nan"], "--read-voltage"),
        (["devices", "fit", "d.csv", "--out", "c.toml", "--plot", "fit.bmpx"], "fit.bmpx"),
    ],
)
def test_bad_fit_arguments(tmp_path, monkeypatch, capsys, argv, needle):
    run_refused(tmp_path, monkeypatch, capsys, argv, needle, {"d.csv": GOOD})


MEASURED = {"x": "[0.0, 0.5, 1.0]", "up_step_frac": "[0.1, 0.1, 0.0]", "up_sigma_frac": "[0.01, 0.01, 0.01]",
            "down_step_frac": "[0.0, -0.1, -0.1]", "down_sigma_frac": "[0.01, 0.01, 0.01]"}  # fmt: skip


def measured_card(**changes):
    table = {**MEASURED, **changes}
    return card() + "\n[measured]\n" + "".join(f"{k} = {v}\n" for k, v in table.items() if v is not None)


@pytest.mark.parametrize(
    "content, needle",
    [
        (measured_card(x="[0.0, 0.5, 0.9]"), "measured.x"),
        (measured_card(up_step_frac="[0.1, 0.1]"), "measured.up_step_frac"),
        (measured_card(down_step_frac='["a", 0, 0]'), "measured.down_step_frac"),
        (measured_card(down_sigma_frac=None), "down_sigma_frac"),
        (measured_card(colour="[1, 2, 3]"), "colour"),
        (card() + "measured = 3\n", "measured"),
    ],
    ids=["x_range", "length", "not_numbers", "missing_column", "unknown_column", "not_a_table"],
)
def test_bad_measured_card(tmp_path, monkeypatch, capsys, content, needle):
    err = run_refused(tmp_path, monkeypatch, capsys, ["devices", "show", "c.toml"], needle, {"c.toml": content})
    assert "c.toml" in err
