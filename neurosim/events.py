"""Event counts: the one place that defines what the core counts (reads, conversions, pulses, programming).

Every workload reads and writes devices through the core (device arrays,
crossbar layers, the fused kernels that call the core's helpers), and each
counts the same events, defined here. Counts are exact integers, accumulated
per read chunk or per image (never per device in the hot path), so they scale
exactly with the work: twice the images, twice every read count. Energy,
latency and area models (:mod:`neurosim.energy`) compute from these counts,
the conductance sums the core keeps beside them (:mod:`neurosim.energy.sums`)
and a circuit card; they never re-run a model of the workload.

Definitions (one *input vector* is one image, one time step's spike vector,
or one error vector of a transposed read):

``dac_conversions``
    Inputs applied by the input DACs: for every input vector, one per input
    line of the read (the layer's ``in`` inputs for a forward read, its
    ``out`` inputs for a transposed read), zeros included. A bit-serial DAC
    converts each input once (its bit planes are counted in ``tile_reads``).
``adc_conversions``
    Output conversions: for every input vector, every tile and every bit
    plane, one per output line of the tile (a tile's columns in a forward
    read, its rows in a transposed read). An ideal ADC (``adc_bits=None``)
    counts the partial sums it passes on all the same.
``cell_reads``
    Devices read: for every input vector, tile and bit plane, the devices on
    the driven input lines (lines whose applied input is non-zero) times the
    devices each line reads (both devices of a differential pair; the
    reference device of a reference-column row; in a transposed read of a
    reference-column tile, the reference column is driven in every read).
``tile_reads``
    Tile read operations: for every input vector and bit plane, one per tile
    of the layer (the unit of sequential array activity for latency).
``pulses_ltp`` / ``pulses_ltd``
    Potentiation (conductance up) and depression (conductance down) pulses
    applied to devices, by pulse count (a train of ``n`` pulses counts ``n``),
    stuck devices included (the pulses are applied; the device does not move).
``writes``
    Device write operations: devices that received a pulse train (a non-zero
    count) in one write; a direct (idealised) programming writes every
    device once.
``program_iterations``
    Programming passes over a device array: write-verify counts its
    read-and-pulse iterations (:attr:`~neurosim.device.ProgramResult.iterations`);
    open-loop programming is one pass (reset, then one pulse train per
    device); direct programming (a target set without a pulse model) counts none.

Not counted: the noise-free conversions of ADC calibration
(:meth:`~neurosim.crossbar.CrossbarLayer.calibrate_adc`), the verify reads of
write-verify programming (``program_iterations + 1`` reads of every device of
the array), the digital weight reads of a digital backward pass, and digital
work (activations, biases, pooling).
"""

from dataclasses import dataclass, fields

from neurosim.errors import NeurosimError


@dataclass(frozen=True)
class EventCounts:
    """Counted hardware events (see :mod:`neurosim.events` for the definitions); all counts are integers >= 0."""

    #: Inputs applied by the input DACs (one per input line and input vector).
    dac_conversions: int = 0
    #: Output conversions (one per tile output line, input vector and bit plane).
    adc_conversions: int = 0
    #: Devices read (devices on driven input lines, per input vector, tile and bit plane).
    cell_reads: int = 0
    #: Tile read operations (one per tile, input vector and bit plane).
    tile_reads: int = 0
    #: Potentiation pulses applied (pulses, not trains).
    pulses_ltp: int = 0
    #: Depression pulses applied.
    pulses_ltd: int = 0
    #: Device write operations (devices that received a non-zero pulse train in one write).
    writes: int = 0
    #: Programming passes (write-verify iterations; open loop 1; direct 0).
    program_iterations: int = 0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise NeurosimError(f"EventCounts.{f.name} = {value!r} is not allowed: a whole count >= 0")

    def __add__(self, other: "EventCounts") -> "EventCounts":
        if not isinstance(other, EventCounts):
            return NotImplemented
        return EventCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def pulses(self) -> int:
        """All pulses applied (potentiation plus depression)."""
        return self.pulses_ltp + self.pulses_ltd

    def to_dict(self) -> dict:
        """The counts by field name (plain ints, for JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_counts(cls, **counts) -> "EventCounts":
        """Counts from integer-like values (NumPy integers included)."""
        return cls(**{k: int(v) for k, v in counts.items()})


#: The field names, in order.
NAMES = tuple(f.name for f in fields(EventCounts))


def total(counts) -> EventCounts:
    """The sum of an iterable of :class:`EventCounts` (zero counts when empty)."""
    out = EventCounts()
    for c in counts:
        out = out + c
    return out


class LayerEvents:
    """Events of a network of layers: a mixin for classes whose ``layers`` each have ``events`` and ``reset_events()``."""

    @property
    def layer_events(self) -> list[EventCounts]:
        """Each layer's events (since its last reset; programming included until then)."""
        return [layer.events for layer in self.layers]

    @property
    def events(self) -> EventCounts:
        """The sum of :attr:`layer_events` over the layers."""
        return total(self.layer_events)

    def reset_events(self) -> None:
        """Set every layer's events (and clip counts) to zero."""
        for layer in self.layers:
            layer.reset_events()


def report(layers) -> dict:
    """The JSON shape of a run's events: ``{"layers": [per-layer dicts], "total": dict}``."""
    layers = list(layers)
    return {"layers": [c.to_dict() for c in layers], "total": total(layers).to_dict()}


def metrics(counts: EventCounts, prefix: str = "events_") -> dict:
    """Flat sweep metrics: ``{prefix + name: count}`` for every field."""
    return {prefix + k: v for k, v in counts.to_dict().items()}


#: The metric names :func:`metrics` gives with the default prefix (for :class:`~neurosim.tasks.Task` declarations).
METRICS = tuple("events_" + n for n in NAMES)


def summary(counts: EventCounts) -> str:
    """One human-readable line."""
    c = counts
    return (
        f"events: {c.dac_conversions:,} DAC and {c.adc_conversions:,} ADC conversions, {c.cell_reads:,} cell reads, "
        f"{c.tile_reads:,} tile reads, {c.pulses_ltp:,} LTP / {c.pulses_ltd:,} LTD pulses"
    )
