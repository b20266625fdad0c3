"""On-chip (in-situ) training: a network learns on simulated device arrays through pulse updates.

Typical use::

    from neurosim.networks.insitu import InsituConfig, train_insitu, train_software

    result = train_insitu("sige_epiram", InsituConfig(), rng=0, out_dir="runs/sige")
    result.final_accuracy            # test accuracy after the last epoch
    baseline = train_software(InsituConfig(), rng=0)

The defaults are NeuroSim's reference protocol with this project's read-out;
``NEUROSIM_V3_PROTOCOL`` is NeuroSim V3.0's read-out one for one (see :mod:`.config`).
"""

from neurosim.networks.insitu.config import (
    NEUROSIM_V3_PROTOCOL,
    REFERENCE_PROTOCOL,
    Backward,
    HiddenUpdate,
    InsituConfig,
    Optimizer,
    Protocol,
    PulseRounding,
    float_baseline_config,
)
from neurosim.networks.insitu.data import InsituData, digits_data, load_mnist_data
from neurosim.networks.insitu.network import DeviceNetwork, FloatNetwork
from neurosim.networks.insitu.train import (
    EpochRecord,
    InsituResult,
    history_csv,
    load_checkpoint,
    load_trained,
    train_insitu,
    train_software,
)

__all__ = [
    "NEUROSIM_V3_PROTOCOL",
    "REFERENCE_PROTOCOL",
    "Backward",
    "DeviceNetwork",
    "EpochRecord",
    "FloatNetwork",
    "HiddenUpdate",
    "InsituConfig",
    "InsituData",
    "InsituResult",
    "Optimizer",
    "Protocol",
    "PulseRounding",
    "digits_data",
    "float_baseline_config",
    "history_csv",
    "load_checkpoint",
    "load_mnist_data",
    "load_trained",
    "train_insitu",
    "train_software",
]
