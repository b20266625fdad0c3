"""Device cards: the shipped presets and every kind of malformed card."""

from dataclasses import replace

import pytest

from neurosim.device import Drift, ProgNoise, ReadNoise, device_from_mapping, list_cards, load_device
from neurosim.errors import CardError, NeurosimError

# design.md section 4: levels LTP/LTD, NL LTP/LTD, R_on (ohm), on/off, C2C
PRESETS = {
    "sige_epiram": (64, 64, 0.5, -0.5, 81e3, 50.2, 0.02),
    "ag_asi": (97, 100, 2.4, -4.88, 26e6, 12.5, 0.035),
    "taox_hfox": (128, 128, 0.04, -0.63, 100e3, 10, 0.037),
    "alox_hfo2": (40, 40, 1.94, -0.61, 16.9e3, 4.43, 0.05),
    "pcmo": (50, 50, 3.68, -6.76, 23e6, 6.84, 0.01),
    "gst_pcm": (100, 120, 0.105, 2.4, 4.71e3, 19.8, 0.015),
    "hzo_fefet": (32, 32, 1.75, 1.46, 559.28e3, 45, 0.005),
}

GOOD = dict(name="x", g_min_S=1e-7, g_max_S=1e-5, levels_ltp=32, levels_ltd=32)


def test_all_cards_ship_and_load():
    assert set(list_cards()) == set(PRESETS) | {"ideal", "pcm_nandakumar", "rram_milo"}
    for name in list_cards():
        dev = load_device(name)
        assert dev.name == name and dev.citation


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_numbers(name):
    ltp, ltd, nl_p, nl_d, r_on, ratio, c2c = PRESETS[name]
    dev = load_device(name)
    assert (dev.levels_ltp, dev.levels_ltd, dev.nl_ltp, dev.nl_ltd) == (ltp, ltd, nl_p, nl_d)
    assert dev.g_max_S == pytest.approx(1 / r_on)
    assert dev.g_min_S == pytest.approx(1 / r_on / ratio)
    assert dev.c2c_sigma_frac == c2c


def test_inference_cards():
    pcm, rram, ideal = load_device("pcm_nandakumar"), load_device("rram_milo"), load_device("ideal")
    assert pcm.g_max_S == 25e-6 and pcm.prog_noise is ProgNoise.PCM_NANDAKUMAR and pcm.drift is Drift.PCM_NANDAKUMAR
    assert pcm.drift_t0_s == 20.0
    assert (rram.g_min_S, rram.g_max_S, rram.prog_noise) == (50e-6, 225e-6, ProgNoise.RRAM_MILO)
    assert ideal.nl_ltp == ideal.nl_ltd == ideal.c2c_sigma_frac == ideal.read_noise_frac == 0
    assert not ideal.snap_to_levels


def test_user_card_by_path(tmp_path):
    card = tmp_path / "mine.toml"
    card.write_text('name = "mine"\nr_on_ohm = 1e5\non_off_ratio = 10\nlevels_ltp = 20\nlevels_ltd = 30\nnl_ltp = 1.0\nprog_noise = "proportional"\nprog_noise_frac = 0.1\nread_noise = "constant"\n')
    dev = load_device(card)
    assert dev.g_max_S == pytest.approx(1e-5) and dev.levels_ltd == 30 and dev.prog_noise is ProgNoise.PROPORTIONAL
    assert dev.read_noise is ReadNoise.CONSTANT
    assert load_device(str(card)) == dev


BAD = [
    ('name = "x"\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\n', "g_min_S"),  # missing field
    ('name = "x"\ng_min_S = 1e-7\ng_max_uS = 10\nlevels_ltp = 8\nlevels_ltd = 8\n', "g_max_uS.*g_max_S"),  # wrong unit
    ('name = "x"\ng_min_S = 1e-5\ng_max_S = 1e-6\nlevels_ltp = 8\nlevels_ltd = 8\n', "g_max_S"),  # G_min >= G_max
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\nc2c_sigma_frac = -0.1\n', "c2c_sigma_frac.*>= 0"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\ncolour = "red"\n', "unknown field 'colour'"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = = 1e-5\n', "not valid TOML"),
    ('name = "x"\ng_min_S = "0.1 uS"\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\n', "g_min_S.*number"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8.5\nlevels_ltd = 8\n', "levels_ltp.*whole"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\nprog_noise = "gauss"\n', "prog_noise.*pcm_nandakumar"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\nread_noise = "white"\n', "read_noise.*constant"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nr_on_ohm = 1e5\non_off_ratio = 3\nlevels_ltp = 8\nlevels_ltd = 8\n', "not both"),
    ('name = "x"\nr_on_ohm = 1e5\nlevels_ltp = 8\nlevels_ltd = 8\n', "on_off_ratio"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\nnl_ltp = 12\n', "nl_ltp"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 0\nlevels_ltd = 8\n', "levels_ltp"),
    ('name = "x"\ng_min_S = 1e-7\ng_max_S = 1e-5\nlevels_ltp = 8\nlevels_ltd = 8\nstuck_on_frac = 1.5\n', "stuck_on_frac"),
]


@pytest.mark.parametrize("text, pattern", BAD)
def test_malformed_cards_get_one_line_errors(tmp_path, text, pattern):
    card = tmp_path / "bad_card.toml"
    card.write_text(text)
    with pytest.raises(CardError, match=pattern) as info:
        load_device(card)
    message = str(info.value)
    assert message.startswith(str(card)) and "\n" not in message


def test_missing_unknown_and_undecodable_cards(tmp_path):
    with pytest.raises(CardError, match="unknown device 'nope'.*sige_epiram"):
        load_device("nope")
    with pytest.raises(CardError, match="no such device card"):
        load_device(tmp_path / "absent.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CardError, match="bin.toml"):
        load_device(binary)


def test_replace_is_validated_again():
    dev = device_from_mapping(GOOD)
    assert replace(dev, c2c_sigma_frac=0.1).c2c_sigma_frac == 0.1
    with pytest.raises(NeurosimError, match="g_max_S"):
        replace(dev, g_max_S=1e-8)
    with pytest.raises(NeurosimError, match="read_noise_frac"):
        replace(dev, read_noise_frac=float("nan"))
    with pytest.raises(NeurosimError, match="prog_noise"):
        replace(dev, prog_noise="constant")
