"""Networks: layer lists, software MLP training and the model files (more network kinds join here)."""

from neurosim.networks.layers import Activation, Dense
from neurosim.networks.mlp import (
    Optimizer,
    Output,
    accuracy,
    forward,
    init_mlp,
    predict,
    train_mlp,
)
from neurosim.networks.modelio import MLPModel, ModelError, load_model, read_model_file, save_model, write_model_file

__all__ = [
    "Activation",
    "Dense",
    "MLPModel",
    "ModelError",
    "Optimizer",
    "Output",
    "accuracy",
    "forward",
    "init_mlp",
    "load_model",
    "predict",
    "read_model_file",
    "save_model",
    "train_mlp",
    "write_model_file",
]
