"""ANN-to-SNN conversion of convolutional networks, read through the crossbar arrays every step.

Conversion as for MLPs (:mod:`neurosim.convert.snn.engine`: data-based
normalisation, Diehl et al. 2015; integrate-and-fire neurons with threshold 1
and reset by subtraction, Rueckauer et al. 2017): every weighted layer
(convolution or dense) ``l`` gets the scale ``lambda_l``, the ``percentile``-th
percentile of its ReLU activations on training inputs (``max(z, 0)`` for the
linear output layer), and runs with ``W_l lambda_{l-1} / lambda_l`` and
``b_l / lambda_l`` (``lambda`` of the weighted layer before it; 1 for the
inputs). Pooling keeps the scale.

Each step, per weighted layer: the spikes (0/1) of the layer below are read
by its :class:`~neurosim.crossbar.CrossbarLayer` (a convolution: one read per
output position of the patch of spikes under it; fresh read noise, DAC, ADC
and event counts of the core read), then ``v <- v + b + I``; ``v > 1`` fires
and subtracts 1. Pooling between layers, on spikes:

- average pooling passes the window's mean spike (a fraction, applied by the
  next layer's DAC as a level);
- max pooling passes, per window, the spike of the neuron that has fired most
  so far (ties: the first in the window), the gating of Rueckauer et al. 2017
  (Front. Neurosci. 11:682, section 2.2.6), whose rate approaches the largest
  rate in the window.

Inputs (:class:`~neurosim.convert.snn.engine.InputCoding`): ``RATE`` applies
the intensities every step (a constant current, read with fresh noise each
step), ``POISSON`` draws Bernoulli spikes with probability = intensity per
step. The output layer's accumulated membrane potential ``counts + v`` or
its spike counts give the class (:class:`~neurosim.convert.snn.engine.Readout`).
This engine is plain NumPy around the core read (no fused kernel): a chunk of
images runs every step before the next chunk starts, so memory is bounded by
the chunk.
"""

import logging
from dataclasses import dataclass, replace

import numpy as np

from neurosim.convert.snn.engine import InputCoding, Readout, SNNRun, _checkpoints, _unit_inputs
from neurosim.crossbar import CrossbarConfig, CrossbarLayer
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts, LayerEvents
from neurosim.networks import conv
from neurosim.networks.layers import Activation, Conv2d, Dense, Pool2d, PoolMode, check_layers
from neurosim.progress import Progress
from neurosim.rng import as_generator
from neurosim.validation import real as _real
from neurosim.validation import whole

log = logging.getLogger(__name__)


def _activations(layers, x) -> list:
    """Each layer's outputs for inputs ``x``, in float64, 500 images at a time."""
    out = [[] for _ in layers]
    for i in range(0, len(x), 500):
        h = np.asarray(x[i : i + 500], dtype=np.float64)
        for j, layer in enumerate(layers):
            h = layer.forward(h)
            out[j].append(h)
    return [np.concatenate(a) for a in out]


@dataclass(frozen=True, eq=False)
class ConvertedCNN:
    """A ReLU CNN normalised for integrate-and-fire neurons with threshold 1.

    ``layers``: the normalised layers (float64 arrays; pooling unchanged);
    ``scales``: ``lambda`` of each weighted layer, in order (ANN units that
    fire one spike per step); ``percentile``: where they came from.
    """

    layers: tuple
    scales: tuple
    percentile: float

    @property
    def sizes(self) -> tuple:
        """Inputs, then the outputs of each weighted layer."""
        return (self.layers[0].n_in, *(layer.n_out for layer in self.layers if layer.arrays))


def convert_cnn(layers, calibration_x, percentile: float = 99.9) -> ConvertedCNN:
    """Normalise a trained ReLU CNN (a layer list: conv2d, pool2d, dense) for IF neurons (module docstring).

    Every weighted layer but the last must have ReLU units, the last must be
    a linear dense layer (the logits); pooling may carry a ReLU (a no-op on
    spikes). ``calibration_x``: prepared training inputs, intensities in [0, 1].
    """
    layers = list(layers)
    check_layers(layers)
    weighted = [i for i, layer in enumerate(layers) if layer.arrays]
    if not isinstance(layers[-1], Dense):
        raise NeurosimError("SNN conversion needs a dense last layer (the logits)")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (Conv2d, Dense, Pool2d)):
            raise NeurosimError(f"layer {i} is a {type(layer).__name__}; SNN conversion takes conv2d, pool2d and dense layers")
        last = i == weighted[-1]
        wanted = (Activation.LINEAR,) if last else (Activation.RELU,) if layer.arrays else (Activation.LINEAR, Activation.RELU)
        if layer.activation not in wanted:
            raise NeurosimError(f"layer {i} ({layer.kind}) has activation {layer.activation.value!r}; SNN conversion needs ReLU "
                                "hidden layers (firing rates are non-negative) and linear logits")
    _real("percentile", percentile, "a percentile in (0, 100]", lambda v: 0 < v <= 100)
    x = _unit_inputs(calibration_x, layers[0].n_in, "calibration_x")
    if x.shape[0] == 0:
        raise NeurosimError("calibration_x is empty: give training inputs to set the per-layer scales")
    acts = _activations(layers, x)
    previous, scales, out = 1.0, [], []
    for i, layer in enumerate(layers):
        if not layer.arrays:
            out.append(layer)
            continue
        lam = float(np.percentile(np.maximum(acts[i], 0.0), percentile))
        if not lam > 0:
            raise NeurosimError(f"layer {i} is silent on the calibration data ({percentile}th percentile of its activations "
                                f"is {lam}): cannot normalise it")
        w = np.asarray(layer.weight, dtype=np.float64) * (previous / lam)
        out.append(replace(layer, weight=w, bias=np.asarray(layer.bias, dtype=np.float64) / lam))
        scales.append(lam)
        previous = lam
    log.info("CNN SNN conversion: layer scales %s (%gth percentile)", [f"{s:.4g}" for s in scales], percentile)
    return ConvertedCNN(tuple(out), tuple(scales), float(percentile))


def max_pool_gate(spikes, counts, kernel: int, stride: int) -> np.ndarray:
    """Per window, the spike ``(n, c, oh, ow)`` of the neuron with the most spikes so far (``counts``, this step's included).

    ``spikes`` and ``counts`` are images ``(n, c, h, w)``; ties go to the
    first neuron of the window (row by row).
    """
    best, out = None, None
    for c_e, s_e in zip(conv._window_entries(counts, kernel, stride), conv._window_entries(spikes, kernel, stride)):
        if best is None:
            best, out = np.array(c_e), np.array(s_e)
            continue
        better = c_e > best
        best = np.where(better, c_e, best)
        out = np.where(better, s_e, out)
    return out


class CrossbarCNNSNN(LayerEvents):
    """A converted spiking CNN whose convolution and dense weight matrices are crossbar arrays of ``device``.

    ``converted``: a :class:`ConvertedCNN`; ``crossbar``: its
    ``input_full_scale`` is set to 1 (a spike, or a full-intensity pixel, is
    the full read voltage); ``rng`` draws device variation and programming
    noise. With ``crossbar.adc_bits`` and no ``adc_range``, each ADC is
    calibrated on Bernoulli spike samples of the target rates of the layer
    below (``calibration_x`` needed). ``input_coding``, ``readout``: as in
    :class:`~neurosim.convert.snn.engine.SNNConfig` (``adc_percentile`` of the
    calibration conversions sets an ADC's range); ``images_per_chunk`` bounds memory.
    """

    def __init__(self, converted: ConvertedCNN, device, crossbar: CrossbarConfig | None = None, *, rng=None,
                 calibration_x=None, input_coding=InputCoding.RATE, readout=Readout.MEMBRANE,
                 images_per_chunk: int = 100, dt_s: float = 1e-3, adc_percentile: float = 100.0):
        if not isinstance(converted, ConvertedCNN):
            raise NeurosimError(f"converted must be a ConvertedCNN (see convert_cnn), got {type(converted).__name__}")
        self.converted = converted
        self.device = device if isinstance(device, DeviceModel) else load_device(device)
        crossbar = CrossbarConfig() if crossbar is None else crossbar
        self.crossbar = replace(crossbar, input_full_scale=1.0)
        self.input_coding = InputCoding(input_coding) if not isinstance(input_coding, InputCoding) else input_coding
        self.readout = Readout(readout) if not isinstance(readout, Readout) else readout
        whole("images_per_chunk", images_per_chunk, 1, "a whole number of images >= 1")
        self.images_per_chunk = int(images_per_chunk)
        _real("dt_s", dt_s, "a time step in seconds > 0", lambda v: v > 0)
        self.dt_s = float(dt_s)
        rng = as_generator(rng)
        specs = [layer for layer in converted.layers if layer.arrays]
        #: One crossbar layer per weighted layer, in order.
        self.layers = [CrossbarLayer(s.matrix if isinstance(s, Conv2d) else s.weight, self.device, self.crossbar, rng)
                       for s in specs]
        if self.crossbar.adc_bits is not None and self.crossbar.adc_range is None:
            if calibration_x is None:
                raise NeurosimError("crossbar.adc_bits without adc_range: give calibration_x (training inputs) to calibrate the ADCs")
            self._calibrate_adc(calibration_x, rng, adc_percentile)

    def drift_to(self, t_s: float) -> None:
        """Read every layer's devices ``t_s`` seconds after programming from now on."""
        for layer in self.layers:
            layer.drift_to(t_s)

    @classmethod
    def from_model(cls, model, device, crossbar=None, *, percentile: float = 99.9, calibration_images=None, rng=None,
                   **kwargs) -> "CrossbarCNNSNN":
        """Convert a trained CNN (name, path or model file; ``lenet5``) and program it onto ``device``.

        ``calibration_images``: raw training images for the normalisation and
        the ADC ranges (default: the 1,000 shipped calibration images).
        """
        from neurosim.convert.network import resolve_model
        from neurosim.data.calibration import calibration_images as shipped

        model = resolve_model(model)
        x = model.prepare(shipped()[0] if calibration_images is None else calibration_images)
        return cls(convert_cnn(model.layers, x, percentile), device, crossbar, rng=rng, calibration_x=x, **kwargs)

    def _calibrate_adc(self, calibration_x, rng, percentile: float) -> None:
        x = _unit_inputs(calibration_x, self.converted.layers[0].n_in, "calibration_x")[:200]
        acts = _activations(self.converted.layers, x)
        source, weighted = x, iter(self.layers)
        for i, spec in enumerate(self.converted.layers):
            if spec.arrays:
                p = np.clip(source, 0.0, 1.0)
                analog = i == 0 and self.input_coding is InputCoding.RATE
                sample = p if analog else (rng.random(p.shape) < p).astype(np.float64)
                layer = next(weighted)
                layer.calibrate_adc(spec.patches(sample) if isinstance(spec, Conv2d) else sample, percentile=percentile)
            source = acts[i]

    def run(self, x, steps: int, *, rng=None, checkpoints=None) -> SNNRun:
        """Simulate inputs ``x`` (samples, inputs; intensities in [0, 1]) for ``steps`` steps (see the module docstring)."""
        layers = self.converted.layers
        x = _unit_inputs(x, layers[0].n_in, "x").astype(np.float32)
        ck = _checkpoints(checkpoints, steps)
        rng = as_generator(rng)
        n, n_out = x.shape[0], layers[-1].n_out
        n_weighted = len(self.layers)
        out = {"counts": np.zeros((n, ck.size, n_out), np.int32), "potential": np.zeros((n, ck.size, n_out)),
               "layer_spikes": np.zeros((n, n_weighted), np.int64), "input_spikes": np.zeros(n, np.int64)}
        before = [layer.events for layer in self.layers]
        clips0 = [layer.clip_counts for layer in self.layers]
        bar = Progress(n, f"cnn snn {steps} steps", "sample")
        try:
            for a in range(0, n, self.images_per_chunk):
                b = min(a + self.images_per_chunk, n)
                self._run_chunk(x[a:b], int(steps), ck, rng, {k: v[a:b] for k, v in out.items()})
                bar.update(n=b - a)
        finally:
            bar.close()
        events = tuple(EventCounts.from_counts(**{k: getattr(e1, k) - getattr(e0, k) for k in
                                                  ("dac_conversions", "adc_conversions", "cell_reads", "tile_reads")})
                       for e0, e1 in zip(before, (layer.events for layer in self.layers)))
        clipped = sum(layer.clip_counts.adc_clipped - c.adc_clipped for layer, c in zip(self.layers, clips0))
        conversions = sum(layer.clip_counts.adc_conversions - c.adc_conversions for layer, c in zip(self.layers, clips0))
        return SNNRun(ck, out["counts"], out["potential"], out["layer_spikes"], out["input_spikes"], int(steps), self.dt_s,
                      tuple(self.converted.sizes), int(clipped), int(conversions), events)

    def _run_chunk(self, x, steps, ck, rng, out) -> None:
        layers = self.converted.layers
        m = x.shape[0]
        v = {i: np.zeros((m, layer.n_out)) for i, layer in enumerate(layers) if layer.arrays}
        fired = {i: np.zeros((m, layer.n_in), np.int64) for i, layer in enumerate(layers)
                 if isinstance(layer, Pool2d) and layer.mode is PoolMode.MAX}
        biases = {i: np.repeat(layer.bias, layer.n_out // layer.bias.size) for i, layer in enumerate(layers) if layer.arrays}
        counts = np.zeros((m, layers[-1].n_out), np.int64)
        k = 0
        for step in range(1, steps + 1):
            if self.input_coding is InputCoding.POISSON:
                h = (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
                out["input_spikes"] += np.count_nonzero(h, axis=1)
            else:
                h = x
            weighted = iter(enumerate(self.layers))
            for i, spec in enumerate(layers):
                if isinstance(spec, Pool2d):
                    images = h.reshape(m, *spec.in_shape)
                    if spec.mode is PoolMode.MAX:
                        fired[i] += h.astype(np.int64)
                        pooled = max_pool_gate(images, fired[i].reshape(images.shape), spec.kernel, spec.stride)
                    else:
                        pooled = conv.avg_pool(images, spec.kernel, spec.stride)
                    h = pooled.reshape(m, -1)
                    continue
                j, crossbar = next(weighted)
                if isinstance(spec, Conv2d):
                    c, oh, ow = spec.out_shape
                    sums = crossbar.forward(spec.patches(h), rng)
                    current = conv.rows_to_images(sums, m, oh, ow).reshape(m, -1)
                else:
                    current = crossbar.forward(h, rng)
                v[i] += biases[i] + current
                spikes = v[i] > 1.0
                v[i] -= spikes
                out["layer_spikes"][:, j] += np.count_nonzero(spikes, axis=1)
                h = spikes.astype(np.float32)
            counts += h.astype(np.int64)
            if k < ck.size and step == ck[k]:
                out["counts"][:, k] = counts
                out["potential"][:, k] = v[len(layers) - 1]
                k += 1

    def accuracy(self, x, y, steps: int, *, rng=None, checkpoints=None) -> np.ndarray:
        """Accuracy at each checkpoint for inputs ``x`` with labels ``y`` (this network's readout)."""
        return self.run(x, steps, rng=rng, checkpoints=checkpoints).accuracy(y, self.readout)
