"""Generic dataclass <-> plain-value serialisation (neurosim.serial)."""

import json
import tomllib
from dataclasses import dataclass
from enum import Enum

import pytest

from neurosim.crossbar import CrossbarConfig, DacMode, Mapping, WireConfig
from neurosim.device import ProgramMethod, load_device
from neurosim.errors import NeurosimError
from neurosim.networks.insitu.config import InsituConfig
from neurosim.networks.threshold.hardware import ThresholdConfig, ThresholdMode
from neurosim.serial import from_plain, to_plain


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    colour: Colour = Colour.RED
    width_m: float = 1.0


@dataclass(frozen=True)
class Outer:
    inner: Inner
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, Colour] = (0.5, Colour.BLUE)
    optional: Inner | None = None


@pytest.mark.parametrize(
    "obj",
    [
        Outer(Inner()),
        Outer(Inner(Colour.BLUE, 2.5), sizes=(3,), pair=(1.0, Colour.RED), optional=Inner(width_m=3.0)),
        CrossbarConfig(),
        CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN, dac_bits=6, dac_mode=DacMode.BIT_SERIAL,
                       program_method=ProgramMethod.WRITE_VERIFY, wire=WireConfig(r_wire_ohm=2.5)),
        ThresholdConfig(crossbar=CrossbarConfig(rows=64, read_voltage_V=0.2), threshold_mode=ThresholdMode.COMPARATOR),
        InsituConfig(sizes=(64, 32, 10)),
        load_device("sige_epiram"),
    ],
)
def test_round_trip_through_json(obj):
    plain = to_plain(obj)
    text = json.dumps(plain)  # plain values only: no enums, tuples or dataclasses left
    assert from_plain(type(obj), json.loads(text)) == obj


def test_plain_values_are_enum_values_and_lists():
    plain = to_plain(Outer(Inner(Colour.BLUE), sizes=(4, 5)))
    assert plain == {"inner": {"colour": "blue", "width_m": 1.0}, "sizes": [4, 5], "pair": [0.5, "blue"], "optional": None}


def test_round_trip_from_toml_table():
    data = tomllib.loads('mapping = "reference_column"\ncols = 8\n[wire]\nr_wire_ohm = 1.5\n')
    config = from_plain(CrossbarConfig, data)
    assert config == CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN, cols=8, wire=WireConfig(r_wire_ohm=1.5))


def test_unknown_field_names_the_field_and_the_allowed_ones():
    with pytest.raises(NeurosimError, match=r"unknown Inner field\(s\) \['colour_x'\]; allowed: \['colour', 'width_m'\]"):
        from_plain(Inner, {"colour_x": "red"})


def test_bad_enum_value_names_the_nested_field():
    with pytest.raises(NeurosimError, match=r"Outer.inner.colour 'green'; allowed: 'red', 'blue'"):
        from_plain(Outer, {"inner": {"colour": "green"}})


def test_missing_required_field_and_non_table():
    with pytest.raises(NeurosimError, match=r"Outer lacks the required field\(s\) \['inner'\]"):
        from_plain(Outer, {})
    with pytest.raises(NeurosimError, match="crossbar.wire must be a table"):
        from_plain(CrossbarConfig, {"wire": 3}, "crossbar")


def test_values_are_still_validated_by_the_dataclass():
    with pytest.raises(NeurosimError, match="rows"):
        from_plain(CrossbarConfig, to_plain(CrossbarConfig()) | {"rows": 0})
