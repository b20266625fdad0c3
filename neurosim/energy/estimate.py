"""Energy, latency and area of a run: pure functions of its event counts, conductance sums and a circuit card.

Per layer (units: J, s, m^2), with the card's fields (:class:`~neurosim.energy.card.CircuitCard`),
the run's counts (:class:`~neurosim.events.EventCounts`) and conductance sums
(:class:`~neurosim.energy.sums.AnalogSums`), ``b`` the ADC bits and ``n`` the DAC bits:

- array reads: ``E_array = V_read^2 t_read read_v2g_S`` (the actual inputs on the actual conductances);
- DACs: ``E_dac = dac_conversions * dac_energy_J * units``, units ``n`` (binary weighted) or
  ``2^n - 1`` (thermometer), one per bit plane for a bit-serial DAC, 1 for a binary or ideal input;
- ADCs: ``E_adc = adc_conversions * fom * 2^b`` (Walden figure of merit);
- digital: ``E_digital = adc_conversions * add_energy_J + activations * activation_energy_J``
  (every converted partial sum is added into its output once: tile sums and bit-plane shifts);
- writes: ``E_write = V_LTP^2 t_LTP write_g_ltp_S + V_LTD^2 t_LTD write_g_ltd_S`` from the
  device card's pulse (None when the card has no pulse and pulses were applied);
- latency: a tile read takes ``t_tile = m (t_read + t_adc(b))``, ``m = min(cols_per_adc, c)``
  sequential column groups of the tile's ``c`` output columns, ``t_adc`` = SAR ``b``, flash 1,
  ramp ``2^b`` clock cycles; a layer's tiles read in parallel (``tiles_in_parallel``), so its
  latency is ``tile_reads / tiles * t_tile`` (else ``tile_reads * t_tile``); layers run one
  after another (read latency only: writes and digital logic are not timed);
- area: cells ``devices * cell_area_F2 * F^2``, ADCs ``tiles * ceil(c / cols_per_adc) * 2^b *
  adc_area_per_level_m2``, DACs ``(input lines of all tiles) * units * dac_area_m2``.
"""

import math
from dataclasses import dataclass, field

from neurosim.energy.card import CircuitCard
from neurosim.energy.sums import AnalogSums
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts

#: Energy components, in the order they are reported.
ENERGY_PARTS = ("array", "dac", "adc", "digital", "write")
#: Area components.
AREA_PARTS = ("cells", "adc", "dac")


@dataclass(frozen=True)
class LayerShape:
    """What the estimate needs to know of a layer's arrays and converters."""

    in_features: int
    out_features: int
    #: Tile grid: tiles along the inputs (rows) and along the outputs.
    row_tiles: int
    col_tiles: int
    #: Output columns of one tile that hold weights (ADC lines per tile: at most this).
    weight_cols: int
    #: Devices of the layer (both devices of a pair, the reference column).
    devices: int
    adc_bits: int | None
    dac_bits: int | None
    bit_serial: bool = False

    @property
    def tiles(self) -> int:
        return self.row_tiles * self.col_tiles

    @property
    def tile_outputs(self) -> int:
        """Output columns of one tile that are converted (the layer's outputs if fewer)."""
        return min(self.weight_cols, self.out_features)


def shape_of(layer) -> LayerShape:
    """The :class:`LayerShape` of a :class:`~neurosim.crossbar.CrossbarLayer`."""
    cfg = layer.config
    devices = sum(a.conductance_S.size for row in layer.tiles for tile in row for a in tile.arrays.values())
    return LayerShape(layer.in_features, layer.out_features, len(layer.row_edges), len(layer.col_edges),
                      cfg.weight_cols, devices, cfg.adc_bits, cfg.dac_bits, cfg.dac_mode.value == "bit_serial")  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """Energy (J) by part, read latency (s) and area (m^2) by part of a run (or per item: :meth:`per`)."""

    energy_J: dict = field(default_factory=lambda: dict.fromkeys(ENERGY_PARTS, 0.0))
    latency_s: float = 0.0
    area_m2: dict = field(default_factory=lambda: dict.fromkeys(AREA_PARTS, 0.0))

    @property
    def total_energy_J(self) -> float | None:
        """All energy parts summed; None when the write energy is unknown (the device card has no pulse)."""
        values = self.energy_J.values()
        return None if any(v is None for v in values) else float(sum(values))

    @property
    def total_area_m2(self) -> float:
        return float(sum(self.area_m2.values()))

    def __add__(self, other: "Estimate") -> "Estimate":
        """Two parts of one chip run one after another: energies and latencies add, and so do areas."""
        add = lambda a, b: None if a is None or b is None else a + b  # noqa: E731
        return Estimate({k: add(self.energy_J[k], other.energy_J[k]) for k in ENERGY_PARTS},
                        self.latency_s + other.latency_s,
                        {k: self.area_m2[k] + other.area_m2[k] for k in AREA_PARTS})  # fmt: skip

    def per(self, n: int) -> "Estimate":
        """Energy and latency per item of ``n`` (images, time steps); the area stays."""
        if n <= 0:
            raise NeurosimError(f"an estimate per item needs n >= 1 items, got {n}")
        return Estimate({k: None if v is None else v / n for k, v in self.energy_J.items()}, self.latency_s / n,
                        dict(self.area_m2))  # fmt: skip

    def to_dict(self) -> dict:
        """Plain JSON: ``energy_J`` (parts and ``total``), ``latency_s``, ``area_m2`` (parts and ``total``)."""
        return {"energy_J": {**self.energy_J, "total": self.total_energy_J}, "latency_s": self.latency_s,
                "area_m2": {**self.area_m2, "total": self.total_area_m2}}  # fmt: skip

    def metrics(self, prefix: str = "energy_") -> dict:
        """Flat sweep metrics: ``{prefix}J`` (total), ``{prefix}<part>_J``, ``{prefix}latency_s``, ``{prefix}area_m2``."""
        out = {f"{prefix}J": self.total_energy_J, f"{prefix}latency_s": self.latency_s, f"{prefix}area_m2": self.total_area_m2}
        out.update({f"{prefix}{k}_J": v for k, v in self.energy_J.items()})
        out.update({f"{prefix}area_{k}_m2": v for k, v in self.area_m2.items()})
        return out


def metric_names(prefix: str = "energy_") -> tuple[str, ...]:
    """The names :meth:`Estimate.metrics` gives with ``prefix``."""
    return (f"{prefix}J", f"{prefix}latency_s", f"{prefix}area_m2", *(f"{prefix}{k}_J" for k in ENERGY_PARTS),
            *(f"{prefix}area_{k}_m2" for k in AREA_PARTS))


def _write_energy(events: EventCounts, sums: AnalogSums, device) -> float | None:
    if events.pulses == 0:
        return 0.0
    v_ltp, t_ltp = device.write_voltage_ltp_V, device.write_pulse_width_ltp_s
    v_ltd, t_ltd = device.write_voltage_ltd_V, device.write_pulse_width_ltd_s
    if (events.pulses_ltp and v_ltp is None) or (events.pulses_ltd and v_ltd is None):
        return None
    e = v_ltp**2 * t_ltp * sums.write_g_ltp_S if events.pulses_ltp else 0.0
    return e + (v_ltd**2 * t_ltd * sums.write_g_ltd_S if events.pulses_ltd else 0.0)


def layer_estimate(events: EventCounts, sums: AnalogSums, shape: LayerShape, card: CircuitCard, device,
                   activations: int = 0) -> Estimate:  # fmt: skip
    """The :class:`Estimate` of one layer's run (formulas in :mod:`neurosim.energy.estimate`).

    ``device``: the :class:`~neurosim.device.DeviceModel` (its write pulse);
    ``activations``: digital activations computed on the layer's outputs.
    """
    b = shape.adc_bits
    if b is None and events.adc_conversions:
        raise NeurosimError("an energy estimate needs the ADC's bits (crossbar.adc_bits / --adc-bits): "
                            "an ideal ADC has no energy or time")  # fmt: skip
    b = 8 if b is None else b  # no conversions: only the area uses it
    units = shape.dac_bits if shape.bit_serial else card.dac_units(shape.dac_bits)
    energy = {
        "array": card.read_voltage_V**2 * card.read_pulse_width_s * sums.read_v2g_S,
        "dac": events.dac_conversions * card.dac_energy_J * units,
        "adc": events.adc_conversions * card.adc_energy_J(b),
        "digital": events.adc_conversions * card.add_energy_J + activations * card.activation_energy_J,
        "write": _write_energy(events, sums, device),
    }
    groups = min(card.cols_per_adc, shape.tile_outputs)
    t_tile = groups * (card.read_pulse_width_s + card.adc_time_s(b))
    sequential = events.tile_reads / shape.tiles if card.tiles_in_parallel else events.tile_reads
    adcs = shape.tiles * math.ceil(shape.tile_outputs / card.cols_per_adc)
    area = {
        "cells": shape.devices * card.cell_area_m2,
        "adc": adcs * card.adc_area_m2(b),
        "dac": shape.in_features * shape.col_tiles * (1 if shape.bit_serial else card.dac_units(shape.dac_bits))
        * card.dac_area_m2,
    }
    return Estimate(energy, sequential * t_tile, area)


def estimate(layers, card: CircuitCard, device) -> Estimate:
    """The :class:`Estimate` of a network run: the sum over ``layers``, an iterable of
    ``(events, sums, shape, activations)`` (layers run one after another)."""
    out = Estimate()
    for events, sums, shape, activations in layers:
        out = out + layer_estimate(events, sums, shape, card, device, activations)
    return out
