"""One tile: a block of a weight matrix held by the devices of one array (or a differential pair of arrays).

A :class:`Tile` is a thin shell around :class:`~neurosim.device.DeviceArray`
objects (device physics, variation, faults, programming and pulse updates
all live there). It adds the mapping between its block of weights and the
devices, and the matrices a read needs, in weight units: the signal matrix
(the transfer matrix when wires have resistance; each device in series with
its cell's access resistance, if any) and the read-noise variance
of each output, cached until the devices are written again.

Orientation: a tile's arrays are ``(rows, cols)`` with rows = inputs, so a
forward read is ``inputs @ signal`` and a transposed read ``inputs @ signal.T``.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurosim.crossbar import kernels
from neurosim.crossbar import mapping as mp
from neurosim.crossbar import wires
from neurosim.crossbar.config import Mapping, WireConfig
from neurosim.device import DeviceArray, DeviceModel, ProgramMethod, ProgramResult
from neurosim.device.noise import read_sigma_S
from neurosim.errors import NeurosimError


@dataclass(frozen=True)
class ReadMatrices:
    """What one read of a tile needs, in weight units.

    ``signal`` (rows, cols): the weights the devices represent, attenuated by
    the wires if they have resistance. ``var``: each device's read-noise
    variance, attenuated like its signal, divided by ``k**2``; shape
    (rows, cols), or (rows, cols + 1) for the reference-column mapping, whose
    last column is the reference devices' variance (``has_reference``); None
    for a device without read noise.
    """

    signal: np.ndarray
    var: np.ndarray | None
    has_reference: bool
    #: The value of every entry of ``var`` when they are all equal (state-independent read noise, no
    #: wires): an output's variance is then this times the sum of its squared inputs. None otherwise.
    uniform_var: float | None = None

    @cached_property
    def padded(self) -> tuple:
        """``(signal, var)`` with columns zero-padded for :func:`~neurosim.crossbar.kernels.sparse_products_numba`.

        ``var`` is (rows, 0) when there is no read noise.
        """
        var = self.var if self.var is not None else self.signal[:, :0]
        return kernels.padded_columns(self.signal), kernels.padded_columns(var)


class Tile:
    """Devices holding a ``(rows, cols)`` block of weights (array orientation)."""

    def __init__(self, device: DeviceModel, mapping: Mapping, shape, wire: WireConfig | None, rng=None,
                 r_series_ohm: float = 0.0):  # fmt: skip
        rows, cols = shape
        if mapping is Mapping.DIFFERENTIAL:
            arrays = {"plus": DeviceArray(device, (rows, cols), rng), "minus": DeviceArray(device, (rows, cols), rng)}
        else:
            arrays = {"main": DeviceArray(device, (rows, cols + 1), rng)}
        self._setup(device, mapping, (rows, cols), wire, arrays, k_S=1.0, r_series_ohm=r_series_ohm)

    def _setup(self, device, mapping, shape, wire, arrays, k_S, r_series_ohm=0.0):
        self.device = device
        self.mapping = mapping
        self.shape = tuple(shape)
        #: The wiring of the nodal model (its access resistance is the cells' series resistance), or None.
        self.wire = wire
        #: Series resistance of every cell (ohm; 0 = none): without wires, reads see ``G / (1 + G R)``.
        self.r_series_ohm = float(r_series_ohm)
        #: Device arrays by role: "plus"/"minus" (differential) or "main" (last column = reference).
        self.arrays = arrays
        #: Siemens per weight unit (set when programmed).
        self.k_S = float(k_S)
        self._cache = {}

    @classmethod
    def from_arrays(cls, device, mapping, shape, wire, arrays: dict, k_S: float, r_series_ohm: float = 0.0) -> "Tile":
        """A tile around existing device arrays (used when loading a saved layer)."""
        self = cls.__new__(cls)
        self._setup(device, mapping, shape, wire, arrays, k_S, r_series_ohm)
        return self

    # -- writes --------------------------------------------------------------------------------
    def program(self, w, w_max: float, method: ProgramMethod, rng, tol_frac: float) -> list[ProgramResult]:
        """Program weights ``w`` (rows, cols; weight units, within ``[-w_max, w_max]``) into the devices."""
        self.k_S = mp.siemens_per_weight(self.device, self.mapping, w_max)
        targets = mp.conductance_targets(w, self.device, self.mapping, w_max)
        results = [self.arrays[name].program(t, method, rng, tol_frac=tol_frac) for name, t in targets.items()]
        self._cache.clear()
        return results

    def apply_pulses(self, pulses_pos, pulses_neg=None, rng=None) -> None:
        """Apply signed pulse counts (rows, cols) to every device of the tile at once.

        ``pulses_pos`` go to the ``G+`` devices (differential) or to the weight
        devices (reference column, whose reference devices are not pulsed);
        ``pulses_neg`` to the ``G-`` devices (differential only; None = none).
        ``> 0`` is potentiation (conductance up), ``< 0`` depression, through
        the device curve with cycle-to-cycle noise
        (:meth:`~neurosim.device.DeviceArray.apply_pulses`).
        """
        if self.mapping is Mapping.DIFFERENTIAL:
            self.arrays["plus"].apply_pulses(pulses_pos, rng)
            if pulses_neg is not None:
                self.arrays["minus"].apply_pulses(pulses_neg, rng)
        else:
            if pulses_neg is not None:
                raise NeurosimError("pulses_neg applies to G- devices: only with Mapping.DIFFERENTIAL")
            pulses = np.asarray(pulses_pos)
            if pulses.shape != self.shape:
                raise NeurosimError(f"pulses must have the tile's shape {self.shape}, got {pulses.shape}")
            padded = np.zeros((self.shape[0], self.shape[1] + 1), dtype=pulses.dtype)
            padded[:, :-1] = pulses
            self.arrays["main"].apply_pulses(padded, rng)
        self._cache.clear()

    # -- state ---------------------------------------------------------------------------------
    def conductances_S(self, t_s: float = 0.0) -> dict:
        """Noise-free device conductances (S) by role, ``t_s`` seconds after programming."""
        return {name: a.conductance_at(t_s) for name, a in self.arrays.items()}

    def signal_pair_S(self, t_s: float = 0.0):
        """``(G_pos, G_neg)``, each broadcastable to (rows, cols): the weight is ``(G_pos - G_neg) / k``."""
        return mp.signal_pair(self.conductances_S(t_s), self.mapping)

    def read_matrices(self, t_s: float, transposed: bool, dtype) -> ReadMatrices:
        """The tile's :class:`ReadMatrices` at time ``t_s``, in ``dtype``, cached until the next write."""
        key = (t_s, bool(transposed) and self.wire is not None, np.dtype(dtype))
        if key not in self._cache:
            if any(k[0] != t_s for k in self._cache):
                self._cache.clear()
            self._cache[key] = self._read_matrices(t_s, key[1], key[2])
        return self._cache[key]

    def line_conductance_S(self, t_s: float, transposed: bool) -> tuple[np.ndarray, float]:
        """The conductance (S) each input line of a read drives, for the array energy ``sum V^2 G t``.

        Forward: per row, the sum over every device of the row (both devices of
        a pair, the reference device); transposed: per weight column, the sum
        over its devices. Each device is seen through its cell's series
        resistance; wire resistance is ignored (an upper bound with wires). The
        second value is the reference column's total (driven at minus the sum
        of the column inputs in a transposed read of a reference-column tile;
        0 otherwise). Cached until the next write.
        """
        key = (t_s, "lines", bool(transposed))
        if key not in self._cache:
            if any(k[0] != t_s for k in self._cache):
                self._cache.clear()
            g = {n: wires.cell_conductance_S(v, self.r_series_ohm) for n, v in self.conductances_S(t_s).items()}
            ref = 0.0
            if self.mapping is Mapping.DIFFERENTIAL:
                devices = g["plus"] + g["minus"]
            elif transposed:
                devices, ref = g["main"][:, :-1], float(g["main"][:, -1].sum())
            else:
                devices = g["main"]
            self._cache[key] = (devices.sum(axis=0 if transposed else 1), ref)
        return self._cache[key]

    def _read_matrices(self, t_s, transposed, dtype) -> ReadMatrices:
        g = self.conductances_S(t_s)
        if self.wire is None and self.r_series_ohm == 0:
            transfer = g
        elif self.wire is None:  # each cell: the device in series with its access transistor
            transfer = {n: wires.cell_conductance_S(v, self.r_series_ohm) for n, v in g.items()}
        else:
            transfer = {n: wires.transfer_matrix(v, self.wire, transposed=transposed) for n, v in g.items()}
        pos, neg = mp.signal_pair(transfer, self.mapping)
        signal = ((pos - neg) / self.k_S).astype(dtype)
        if self.device.read_noise_frac == 0:
            return ReadMatrices(signal, None, self.mapping is Mapping.REFERENCE_COLUMN)
        var = {}
        for name, gn in g.items():
            sigma = read_sigma_S(self.device, gn)
            if self.wire is not None:  # each device's noise is attenuated like its signal (first order)
                with np.errstate(divide="ignore", invalid="ignore"):
                    sigma = sigma * np.where(gn > 0, transfer[name] / gn, 0.0)
            elif self.r_series_ohm > 0:  # d(G / (1 + G R)) / dG = (1 + G R)^-2, to first order
                sigma = sigma / (1.0 + gn * self.r_series_ohm) ** 2
            var[name] = (sigma / self.k_S) ** 2
        total = (var["plus"] + var["minus"] if self.mapping is Mapping.DIFFERENTIAL else var["main"]).astype(dtype)
        uniform = float(total.flat[0]) if total.size and np.all(total == total.flat[0]) else None
        return ReadMatrices(signal, total, self.mapping is Mapping.REFERENCE_COLUMN, uniform)

    def nodal_output(self, inputs, t_s: float, transposed: bool) -> np.ndarray:
        """Noise-free outputs (weight units x input units) by an exact nodal solve per input vector.

        ``inputs``: (batch, rows) forward or (batch, cols) transposed. The
        network is linear, so inputs may be in any units proportional to volts.
        The reference column is driven with minus the sum of the column inputs
        in a transposed read (so that it subtracts ``G_ref`` times that sum).
        """
        if self.wire is None:
            raise NeurosimError("a nodal solve needs wire resistance: set CrossbarConfig(wire=WireConfig(...))")
        g = self.conductances_S(t_s)
        v = np.asarray(inputs, dtype=np.float64)
        if self.mapping is Mapping.DIFFERENTIAL:
            plus = wires.nodal_solve(g["plus"], self.wire, v, transposed=transposed)
            minus = wires.nodal_solve(g["minus"], self.wire, v, transposed=transposed)
            return (plus - minus) / self.k_S
        if transposed:
            drive = np.hstack([v, -v.sum(axis=1, keepdims=True)])
            return wires.nodal_solve(g["main"], self.wire, drive, transposed=True) / self.k_S
        currents = wires.nodal_solve(g["main"], self.wire, v)
        return (currents[:, :-1] - currents[:, -1:]) / self.k_S
