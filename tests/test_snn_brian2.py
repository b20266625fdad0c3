"""brian2 as the reference for the converted network: given the same input spikes, brian2 fires the same
output spikes as neurosim's fused engine, both when written directly in brian2 and when exported with
``Network.to_brian2`` from the network engine. brian2 runs with its NumPy target (no compilation)."""

import numpy as np
import pytest

from neurosim.convert.network import resolve_model
from neurosim.convert.snn import CrossbarSNN, convert_mlp
from neurosim.data import load_mnist
from neurosim.data.calibration import calibration_images
from neurosim.streams import uniform_numpy

b2 = pytest.importorskip("brian2")
pytestmark = [
    pytest.mark.usefixtures("brian2_numpy_target"),
    pytest.mark.filterwarnings("ignore::pyparsing.warnings.PyparsingDeprecationWarning"),
]

B, STEPS = 3, 30


@pytest.fixture(scope="module")
def setup():
    model = resolve_model("mlp784")
    images, labels = load_mnist("test")
    x = model.prepare(images[:B]).astype(np.float64)
    snn = CrossbarSNN(convert_mlp(model, model.prepare(calibration_images()[0])), "ideal", rng=0)
    run = snn.run(x, STEPS, rng=np.random.default_rng(4), checkpoints=[STEPS])
    # the fused engine's input spikes, rebuilt from its per-sample streams (its first draw from the generator)
    seeds = np.random.default_rng(4).integers(0, 2**64, size=B, dtype=np.uint64)
    p = (x / snn.config.dt_s) * snn.config.dt_s
    fired = np.stack([uniform_numpy(seeds[:, None], np.uint64(s) * np.uint64(784) + np.arange(784, dtype=np.uint64)) < p
                      for s in range(STEPS)], axis=1)
    assert np.array_equal(fired.sum(axis=(1, 2)), run.input_spikes)
    return snn, x, run, np.nonzero(fired)


def test_brian2_network_fires_the_same_output_spikes(setup):
    from neurosim.convert.snn.brian2 import brian2_network, output_scores

    snn, x, run, trains = setup
    net, groups, monitor = brian2_network(snn, x, read_noise=False, input_trains=trains)
    net.run(STEPS * snn.config.dt_s * b2.second)
    counts, potential = output_scores(groups, monitor, B, 10)
    np.testing.assert_array_equal(counts, run.counts[:, 0])
    np.testing.assert_allclose(potential, run.potential[:, 0], atol=1e-5)  # float32 read sums
    assert len(groups[0]) == B * 100 and counts.sum() > 10


def test_network_export_to_brian2_fires_the_same_output_spikes(setup):
    snn, x, run, (sample, step, index) = setup
    net, _, groups = snn.network(x, input_trains=(sample, step, index))
    for s in range(B):
        bnet = net.to_brian2(sample=s)
        bnet.run(STEPS * snn.config.dt_s * b2.second)
        counts = np.bincount(np.asarray(bnet["out_spikes"].i[:]), minlength=10)
        np.testing.assert_array_equal(counts, run.counts[s, 0])
