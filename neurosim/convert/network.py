"""Trained MLP weights -> a network of crossbar layers on a chosen device.

Each weight matrix becomes a :class:`~neurosim.crossbar.CrossbarLayer`
(tiled, mapped and programmed onto the device); biases and activations are
applied digitally after each layer's ADC, as in most inference chips. The
input range of every layer (its DAC full scale) and every ADC range are
calibrated once on a sample of training inputs, so a run never looks at the
test data to set its converters.
"""

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurosim.crossbar import CrossbarConfig, CrossbarLayer
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.networks.mlp import Activation, activate, check_params
from neurosim.validation import parse_enum
from neurosim.networks.modelio import MLPModel, load_model, model_paths
from neurosim.resources import shipped_dir
from neurosim.rng import as_generator

log = logging.getLogger(__name__)


def resolve_model(name_or_path) -> MLPModel:
    """A trained model by path (``models/mlp784``, with or without suffix) or shipped name (``mlp784``)."""
    if isinstance(name_or_path, MLPModel):
        return name_or_path
    npz, _ = model_paths(name_or_path)
    if npz.exists() or "/" in str(name_or_path):
        return load_model(name_or_path)
    shipped = shipped_dir("models") / Path(str(name_or_path)).name
    if model_paths(shipped)[0].exists():
        return load_model(shipped)
    names = sorted(p.stem for p in shipped_dir("models").glob("*.json") if '"neurosim-mlp"' in p.read_text())
    raise NeurosimError(f"unknown model '{name_or_path}'; shipped models: {', '.join(names)} (or give a path)")



class HardwareNetwork:
    """An MLP whose weight matrices live on simulated crossbar arrays.

    ``params`` is a list of ``(W, b)`` (W of shape (out, in)); ``calibration_x``
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
        check_params(params)
        self.activation = parse_enum(Activation, activation, "activation")
        self.device = device if isinstance(device, DeviceModel) else load_device(device)
        config = CrossbarConfig() if config is None else config
        rng = as_generator(rng)
        x = np.asarray(calibration_x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != params[0][0].shape[1]:
            raise NeurosimError(
                f"calibration_x must be (batch >= 1, {params[0][0].shape[1]}) network inputs, got {x.shape}"
            )
        self.biases = [np.asarray(b, dtype=np.float32) for _, b in params]
        self.layers = []
        for i, (w, b) in enumerate(params):
            scale = float(np.percentile(np.abs(x), input_percentile)) or 1.0
            layer = CrossbarLayer(w, self.device, replace(config, input_full_scale=scale), rng)
            if config.adc_bits is not None and config.adc_range is None:
                layer.calibrate_adc(x, percentile=adc_percentile)
            self.layers.append(layer)
            z = x @ np.asarray(w, dtype=np.float32).T + b
            x = activate(z, self.activation) if i < len(params) - 1 else z

    @classmethod
    def from_model(cls, model, device, config=None, *, calibration_images, rng=None, **kwargs) -> "HardwareNetwork":
        """Convert a trained :class:`MLPModel` (or its name/path), calibrating on raw training images."""
        model = resolve_model(model)
        return cls(model.params, model.activation, device, config, calibration_x=model.prepare(calibration_images), rng=rng, **kwargs)

    def drift_to(self, t_s: float) -> None:
        """Let every layer's devices drift to ``t_s`` seconds after programming."""
        for layer in self.layers:
            layer.drift_to(t_s)

    def forward(self, x, rng=None, batch_size: int = 2000) -> np.ndarray:
        """Logits (batch, outputs) for network inputs ``x`` (batch, in), read through the crossbars.

        A call that fails (a NaN input in any batch, say) leaves the layers' clip counts and ``rng`` as they were.
        """
        rng = as_generator(rng)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.layers[0].in_features:
            raise NeurosimError(f"x must be (batch, {self.layers[0].in_features}), got {x.shape}")
        clips = [{k: v.copy() for k, v in layer._clips.items()} for layer in self.layers]
        rng_state = rng.bit_generator.state
        out = []
        try:
            for start in range(0, x.shape[0], batch_size):
                h = x[start : start + batch_size]
                for i, (layer, b) in enumerate(zip(self.layers, self.biases)):
                    z = layer.forward(h, rng) + b
                    h = activate(z, self.activation) if i < len(self.layers) - 1 else z
                out.append(h)
        except BaseException:  # such as a NaN input in a later batch: clip counts and rng stay as they were
            for layer, saved in zip(self.layers, clips):
                layer._clips = saved
            rng.bit_generator.state = rng_state
            raise
        return np.concatenate(out) if out else np.zeros((0, self.layers[-1].out_features), np.float32)

    def accuracy(self, x, y, rng=None) -> float:
        """Fraction of inputs ``x`` whose arg-max logit is the label ``y``."""
        return float(np.mean(np.argmax(self.forward(x, rng), axis=1) == np.asarray(y)))

    def clip_fractions(self) -> dict:
        """Fractions of ADC and DAC conversions that clipped, over all layers and reads so far."""
        counts = [layer.clip_counts for layer in self.layers]
        total = lambda attr: sum(getattr(c, attr) for c in counts)  # noqa: E731
        return {
            "adc_clip_fraction": total("adc_clipped") / max(1, total("adc_conversions")),
            "dac_clip_fraction": total("dac_clipped") / max(1, total("dac_inputs")),
        }
