"""Estimates of the workloads' runs: settings, the split into reads and programming, crossbar layers.

Sweep tasks and the command line take a circuit as settings: ``circuit``
(a card name or path) and ``circuit.<field>`` overrides
(``circuit.cols_per_adc = 8``); a run with either set returns the
:func:`~neurosim.energy.estimate.Estimate` metrics ``energy_*``.
"""

from dataclasses import replace

from neurosim.crossbar.config import Mapping
from neurosim.energy.card import CircuitCard, circuit_with_overrides
from neurosim.energy.estimate import Estimate, LayerShape, estimate, shape_of
from neurosim.energy.sums import AnalogSums
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts

#: Default circuit card when only ``circuit.<field>`` overrides are given.
DEFAULT_CIRCUIT = "sar_32nm"
#: Prefix of the estimate's sweep metrics.
PREFIX = "energy_"


def circuit_from_settings(plain: dict, overrides: dict, adc_bits="unchecked") -> CircuitCard | None:
    """The run's circuit card (``plain["circuit"]`` with ``overrides``), or None when neither is given.

    With ``adc_bits`` (the run's ADC bits) an ideal ADC (None) is refused: it has no energy or time.
    """
    if "circuit" not in plain and not overrides:
        return None
    card = circuit_with_overrides(plain.get("circuit", DEFAULT_CIRCUIT), overrides)
    if adc_bits is None:
        raise NeurosimError("an energy estimate needs the ADC's bits (crossbar.adc_bits, --adc-bits): "
                            "an ideal ADC has no energy or time")  # fmt: skip
    return card


def reads_only(events: EventCounts, sums: AnalogSums) -> tuple[EventCounts, AnalogSums]:
    """The read part of a layer's counts and sums (no pulses, writes or programming passes)."""
    return replace(events, pulses_ltp=0, pulses_ltd=0, writes=0, program_iterations=0), replace(
        sums, write_g_ltp_S=0.0, write_g_ltd_S=0.0
    )


def writes_only(events: EventCounts, sums: AnalogSums) -> tuple[EventCounts, AnalogSums]:
    """The write part of a layer's counts and sums (no reads)."""
    return (replace(events, dac_conversions=0, adc_conversions=0, cell_reads=0, tile_reads=0),
            replace(sums, read_v2g_S=0.0))  # fmt: skip


def crossbar_estimates(layers, card: CircuitCard, device, items: int, activations) -> tuple[Estimate, float | None]:
    """Per item (``items`` images) of the reads of crossbar ``layers`` since their last reset, and the energy (J)
    of their programming (the writes counted since then, once; None if the device card has no write pulse).

    ``activations[i]``: digital activations per item on layer ``i``'s outputs.
    """
    reads, writes = [], []
    for layer, acts in zip(layers, activations):
        shape = shape_of(layer)
        reads.append((*reads_only(layer.events, layer.analog_sums), shape, acts * items))
        writes.append((*writes_only(layer.events, layer.analog_sums), shape, 0))
    return estimate(reads, card, device).per(items), estimate(writes, card, device).energy_J["write"]


def insitu_shapes(config) -> list[LayerShape]:
    """The :class:`LayerShape` of the hidden and output layer of an on-chip training
    :class:`~neurosim.networks.insitu.config.InsituConfig` (tiles of ``crossbar.rows`` rows, one tile wide)."""
    xb = config.crossbar
    reference = xb.mapping is Mapping.REFERENCE_COLUMN
    shapes = []
    for n_in, n_out in zip(config.sizes[:-1], config.sizes[1:]):
        devices = n_in * (n_out + 1) if reference else 2 * n_in * n_out
        shapes.append(LayerShape(n_in, n_out, -(-n_in // xb.rows), 1, n_out, devices, xb.adc_bits, xb.dac_bits))
    return shapes


def insitu_estimates(result, card: CircuitCard) -> dict:
    """Metrics of an on-chip training run (:class:`~neurosim.networks.insitu.train.InsituResult`): per training
    image (``energy_*``: forward and transposed reads, digital activations, the pulses) and per test image
    (``energy_test_*``: the evaluation reads)."""
    config = result.config
    shapes = insitu_shapes(config)
    acts = config.sizes[1:]
    trained = len(result.history) * config.images_per_epoch
    tested = result.layer_events("evaluation")[0].dac_conversions // config.sizes[0]
    out = {}
    for phase, prefix, n in (("training", PREFIX, trained), ("evaluation", PREFIX + "test_", tested)):
        layers = [(e, s, shape, a * n) for e, s, shape, a in
                  zip(result.layer_events(phase), result.layer_sums(phase), shapes, acts)]  # fmt: skip
        out.update(estimate(layers, card, result.device).per(max(n, 1)).metrics(prefix))
    return out
