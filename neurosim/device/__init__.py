"""Synapse device physics: models, pulse-update curves, noise, faults, drift and cards."""

from neurosim.device.array import DeviceArray, ProgramMethod, ProgramResult
from neurosim.device.cards import device_from_mapping, device_to_mapping, list_cards, load_card, load_device
from neurosim.device.curve import nl_to_a
from neurosim.device.model import DeviceModel, Drift, ProgNoise, ReadNoise

__all__ = [
    "DeviceArray",
    "DeviceModel",
    "Drift",
    "ProgNoise",
    "ProgramMethod",
    "ProgramResult",
    "ReadNoise",
    "device_from_mapping",
    "device_to_mapping",
    "list_cards",
    "load_card",
    "load_device",
    "nl_to_a",
]
