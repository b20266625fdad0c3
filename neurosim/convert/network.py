"""Trained network weights -> a network of crossbar layers on a chosen device.

Each weight matrix becomes a :class:`~neurosim.crossbar.CrossbarLayer`
(tiled, mapped and programmed onto the device); biases and activations are
applied digitally after each layer's ADC, as in most inference chips. The
input range of every layer (its DAC full scale) and every ADC range are
calibrated once on a sample of training inputs, so a run never looks at the
test data to set its converters.

A convolution (:class:`~neurosim.networks.layers.Conv2d`) is a crossbar layer
holding its unrolled ``(out_channels, in_channels * k * k)`` kernel: each
output position is one read of the patch under it (``k * k * in_channels``
rows, one column or column pair per output channel), with the same DAC, ADC,
read noise, drift, faults and event counts as a dense layer. Pooling
(:class:`~neurosim.networks.layers.Pool2d`) runs digitally after the ADCs.
Patches are unrolled for one chunk of images at a time
(:data:`PATCH_ELEMENTS`), never for a whole test set.
"""

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurosim.crossbar import CrossbarConfig, CrossbarLayer
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.events import LayerEvents
from neurosim.networks.layers import Conv2d, Dense, activate, check_layers, mlp_layers
from neurosim.networks.modelio import MLPModel, ModelError, ModelFile, load_model, model_paths, read_model_file
from neurosim.networks.mlp import check_labels, check_params
from neurosim.resources import shipped_dir
from neurosim.rng import as_generator

log = logging.getLogger(__name__)


#: Patch entries a convolution unrolls at once on hardware (bounds a read's memory; results do not depend on it).
PATCH_ELEMENTS = 1 << 22


def _load_network(path) -> MLPModel | ModelFile:
    """An MLP as :class:`MLPModel`; a network with convolutions as :class:`ModelFile`; anything else is refused."""
    file = read_model_file(path)
    if any(isinstance(layer, Conv2d) for layer in file.layers):
        return file
    return load_model(path)


def resolve_model(name_or_path) -> MLPModel | ModelFile:
    """A trained model by path (``models/mlp784``, with or without suffix) or shipped name (``mlp784``, ``lenet5``).

    MLPs come back as :class:`MLPModel`, convolutional networks as
    :class:`ModelFile` (both have ``layers``, ``prepare`` and ``accuracy``).
    """
    if isinstance(name_or_path, (MLPModel, ModelFile)):
        return name_or_path
    npz, _ = model_paths(name_or_path)
    if npz.exists() or "/" in str(name_or_path):
        return _load_network(name_or_path)
    shipped = shipped_dir("models") / Path(str(name_or_path)).name
    if model_paths(shipped)[0].exists():
        return _load_network(shipped)
    raise NeurosimError(f"unknown model '{name_or_path}'; shipped models: {', '.join(shipped_models())} (or give a path)")


def shipped_models() -> list[str]:
    """Names of the shipped model files that convert (MLPs and CNNs; not the threshold model, say)."""
    names = []
    for path in sorted(shipped_dir("models").glob("*.json")):
        try:
            _load_network(path)
        except ModelError:
            continue
        names.append(path.stem)
    return names



class HardwareNetwork(LayerEvents):
    """A network whose dense and convolution weight matrices live on simulated crossbar arrays.

    ``params`` is a list of ``(W, b)`` (W of shape (out, in)) with
    ``activation`` the hidden layers' (the last layer gives the logits), or a
    list of :class:`~neurosim.networks.layers` layers (dense, conv2d, pool2d)
    with ``activation`` None (each layer's own activation applies; see
    :meth:`from_layers`). ``calibration_x``
    are network inputs (batch, in) from the training data that set each
    layer's DAC full scale (the ``input_percentile`` of its software
    activations) and ADC range (the ``adc_percentile`` of its conversions).
    ``rng`` draws the device variation, faults and programming noise.
    """

    def __init__(
        self,
        params,
        activation,
        device,
        config: CrossbarConfig | None = None,
        *,
        calibration_x,
        rng=None,
        input_percentile: float = 99.9,
        adc_percentile: float = 100.0,
    ):
        if activation is None:
            network = list(params)
            check_layers(network)
        else:
            check_params(params)
            network = mlp_layers(params, activation)
        #: The layers in order (their float weights; pooling runs as they say).
        self.network = network
        #: The digital activation after each crossbar layer's ADC (the last one linear for an MLP).
        self.activations = [layer.activation for layer in network if layer.arrays]
        self.device = device if isinstance(device, DeviceModel) else load_device(device)
        config = CrossbarConfig() if config is None else config
        rng = as_generator(rng)
        x = np.asarray(calibration_x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != network[0].n_in:
            raise NeurosimError(
                f"calibration_x must be (batch >= 1, {network[0].n_in}) network inputs, got {x.shape}"
            )
        self.biases = [np.asarray(layer.bias, dtype=np.float32) for layer in network if layer.arrays]
        #: One crossbar layer per dense or convolution layer, in order.
        self.layers = []
        for layer_spec in network:
            if layer_spec.arrays:
                rows = layer_spec.patches(x) if isinstance(layer_spec, Conv2d) else x
                w = layer_spec.matrix if isinstance(layer_spec, Conv2d) else layer_spec.weight
                scale = float(np.percentile(np.abs(rows), input_percentile)) or 1.0
                layer = CrossbarLayer(w, self.device, replace(config, input_full_scale=scale), rng)
                if config.adc_bits is not None and config.adc_range is None:
                    layer.calibrate_adc(rows, percentile=adc_percentile)
                self.layers.append(layer)
            x = np.asarray(layer_spec.forward(x), dtype=np.float32)
        #: Images per chunk of a read: the largest convolution unrolls at most PATCH_ELEMENTS entries.
        per_image = [int(np.prod(s.out_shape[1:])) * s.matrix.shape[1] for s in network if isinstance(s, Conv2d)]
        self.images_per_chunk = max(1, PATCH_ELEMENTS // max(per_image)) if per_image else None

    @classmethod
    def from_layers(cls, layers, device, config=None, *, calibration_x, rng=None, **kwargs) -> "HardwareNetwork":
        """Put a list of :mod:`~neurosim.networks.layers` layers on crossbars (each keeps its activation)."""
        return cls(layers, None, device, config, calibration_x=calibration_x, rng=rng, **kwargs)

    @classmethod
    def from_model(cls, model, device, config=None, *, calibration_images, rng=None, **kwargs) -> "HardwareNetwork":
        """Convert a trained :class:`MLPModel` or CNN :class:`ModelFile` (or its name/path), calibrating on raw training images."""
        model = resolve_model(model)
        return cls.from_layers(model.layers, device, config, calibration_x=model.prepare(calibration_images), rng=rng, **kwargs)

    def drift_to(self, t_s: float) -> None:
        """Let every layer's devices drift to ``t_s`` seconds after programming."""
        for layer in self.layers:
            layer.drift_to(t_s)

    def _read_chunk(self, h, rng) -> np.ndarray:
        """Outputs of the last layer for one chunk of inputs ``h`` through every layer."""
        crossbars = iter(zip(self.layers, self.biases))
        for spec in self.network:
            if isinstance(spec, Conv2d):
                h = spec.outputs_from_sums(next(crossbars)[0].forward(spec.patches(h), rng), h.shape[0])
            elif isinstance(spec, Dense):
                layer, b = next(crossbars)
                h = activate(layer.forward(h, rng) + b, spec.activation)
            else:
                h = spec.forward(h)
        return h

    def forward(self, x, rng=None, batch_size: int = 2000) -> np.ndarray:
        """Logits (batch, outputs) for network inputs ``x`` (batch, in), read through the crossbars.

        Inputs go through in chunks of ``batch_size`` (fewer for a network
        with convolutions: :attr:`images_per_chunk`); the results do not
        depend on the chunking except through the order of the noise draws.
        A call that fails (a NaN input in any batch, say) leaves the layers' clip counts and ``rng`` as they were.
        """
        if self.images_per_chunk is not None:
            batch_size = min(batch_size, self.images_per_chunk)
        rng = as_generator(rng)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.network[0].n_in:
            raise NeurosimError(f"x must be (batch, {self.network[0].n_in}), got {x.shape}")
        clips = [({k: v.copy() for k, v in layer._clips.items()}, {k: v.copy() for k, v in layer._v2g.items()})
                 for layer in self.layers]
        rng_state = rng.bit_generator.state
        out = []
        try:
            for start in range(0, x.shape[0], batch_size):
                out.append(self._read_chunk(x[start : start + batch_size], rng))
        except BaseException:  # such as a NaN input in a later batch: clip counts and rng stay as they were
            for layer, (saved, v2g) in zip(self.layers, clips):
                layer._clips, layer._v2g = saved, v2g
            rng.bit_generator.state = rng_state
            raise
        return np.concatenate(out) if out else np.zeros((0, self.layers[-1].out_features), np.float32)

    def accuracy(self, x, y, rng=None) -> float:
        """Fraction of inputs ``x`` whose arg-max logit is the label ``y``."""
        logits = self.forward(x, rng)
        return float(np.mean(np.argmax(logits, axis=1) == check_labels(y, len(logits), logits.shape[1])))

    def clip_fractions(self) -> dict:
        """Fractions of ADC and DAC conversions that clipped, over all layers and reads so far."""
        counts = [layer.clip_counts for layer in self.layers]
        total = lambda attr: sum(getattr(c, attr) for c in counts)  # noqa: E731
        return {
            "adc_clip_fraction": total("adc_clipped") / max(1, total("adc_conversions")),
            "dac_clip_fraction": total("dac_clipped") / max(1, total("dac_inputs")),
        }
