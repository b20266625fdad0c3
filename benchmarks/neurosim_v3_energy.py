"""Energy of NeuroSim's 400-100-10 reference network on sige_epiram, next to NeuroSim V3.0's own formulas.

Run: ``NEUROSIM_DATA=/path/to/data python benchmarks/neurosim_v3_energy.py [--epochs 1] [--protocol neurosim_v3]``

Trains the reference protocol (``--protocol``, default NeuroSim V3's read-out) with the
``sar_32nm`` circuit card and prints neurosim's estimate per training image. Beside it, the
parts of NeuroSim V3.0's printout that its code (``MLP_NeuroSim_V3.0``) computes from the array
alone, evaluated on this run's counts and conductances (NeuroSim's C++ cannot run here):

- array read energy (``Train.cpp``, hidden and output layer): per column and active row the cell's
  ``V_r I t_r`` (``I = V_r G`` through the 15 kOhm access transistor; the reference current is a
  computed constant, not a cell, so no energy), plus ``C_row V_r^2`` per column and active row and
  ``C_gate V_dd^2`` per column and row (every word line open, 1T1R), with ``C = 2F x 0.2 fF/um``
  (``Array.h``, wire width 100 nm) and ``V_dd = 0.9 V`` (``Technology.cpp``, 32 nm);
- array write energy (``Cell.cpp`` ``WriteEnergyCalculation``, 1T1R): per written cell
  ``V^2 (G_prev + G) / 2 t_pulse n + V^2 C_col n``;
- a lower bound of the read latency: NeuroSim reads the hidden layer's 100 columns in
  ``ceil(100 / 7) = 15`` multiplexed steps (7 read circuits, ``numColMuxed = 16``) and the
  output layer's 10 in 10, each at least one read pulse (5 ns).

Its periphery (decoders, switch matrices, read circuits, adders) comes from circuit models
that are not reproduced here.
"""

import argparse

import numpy as np

from neurosim.energy import load_circuit
from neurosim.energy.runs import insitu_estimates
from neurosim.networks.insitu.tasks import run_settings

C_WIRE_F = 2 * 100e-9 * 0.2e-15 / 1e-6  # one cell's row / column / gate wire (Array.h): 2F x 0.2 fF/um
VDD_V = 0.9  # Technology.cpp, 32 nm
N_STEPS = (15, 10)  # sequential multiplexed reads of the hidden and the output layer (Train.cpp)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--protocol", default="neurosim_v3", choices=["neurosim_v3", "project"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = {"device": "sige_epiram", "protocol": args.protocol, "epochs": args.epochs, "circuit": "sar_32nm"}
    result = run_settings(settings, args.seed, progress=False)
    card = load_circuit("sar_32nm")
    ours = insitu_estimates(result, card)
    config, device, net = result.config, result.device, result.network
    n_img = len(result.history) * config.images_per_epoch
    events, sums = result.layer_events("training"), result.layer_sums("training")
    (n_in, n_h, n_out), ref = config.sizes, config.crossbar.mapping.value == "reference_column"
    v2t = card.read_voltage_V**2 * card.read_pulse_width_s
    r = config.crossbar.r_series_ohm

    array_ns, caps = 0.0, 0.0
    for layer, (rows, cols) in enumerate(((n_in, n_h), (n_h, n_out))):
        per_row = cols + 1 if ref else 2 * cols
        driven = events[layer].cell_reads / per_row  # driven rows over the run (forward reads: v3 has no transposed read)
        array_ns += v2t * sums[layer].read_v2g_S
        if ref:  # NeuroSim's reference current is computed, not read from a cell: take the reference devices out
            g_ref = net.arrays[f"layer{layer + 1}.main"].conductance_S[:, -1]
            assert np.allclose(g_ref, g_ref[0]), "the reference devices differ: this estimate assumes they are equal"
            array_ns -= v2t * driven * g_ref[0] / (1 + g_ref[0] * r)
        caps += cols * driven * C_WIRE_F * card.read_voltage_V**2 + cols * rows * C_WIRE_F * VDD_V**2 * n_img
    write_caps = C_WIRE_F * sum(device.write_voltage_ltp_V**2 * e.pulses_ltp + device.write_voltage_ltd_V**2 * e.pulses_ltd
                                for e in events)  # fmt: skip
    t_min = sum(N_STEPS) * card.read_pulse_width_s
    print(f"{args.protocol} protocol on sige_epiram, {args.epochs} epoch(s) of {config.images_per_epoch} images, "
          f"seed {args.seed}: test accuracy {100 * result.final_accuracy:.2f} %; per training image:")
    print(f"  pulses {sum(e.pulses for e in events) / n_img:.1f}, active input rows {events[0].cell_reads / (n_h + 1 if ref else 2 * n_h) / n_img:.1f}")
    rows = [
        ("array read energy", ours["energy_array_J"], array_ns / n_img + caps / n_img, "NeuroSim V3 formula on this run"),
        ("  of which wire and gate capacitance", 0.0, caps / n_img, "NeuroSim V3 formula"),
        ("array write energy", ours["energy_write_J"], ours["energy_write_J"] + write_caps / n_img,
         "NeuroSim V3 formula on this run"),
        ("DAC / input drivers", ours["energy_dac_J"], None, "NeuroSim: decoder and driver models"),
        ("ADC / read circuits", ours["energy_adc_J"], None, "NeuroSim: integrate-and-fire read circuit model"),
        ("digital", ours["energy_digital_J"], None, "NeuroSim: adder, DFF, subtractor models"),
    ]
    print(f"  {'part':38s} {'neurosim':>12s} {'NeuroSim V3':>12s}")
    for name, a, b, how in rows:
        fb = "-" if b is None else f"{b * 1e12:10.2f} pJ"
        print(f"  {name:38s} {a * 1e12:10.2f} pJ {fb:>12s}   ({how})")
    print(f"  {'read latency':38s} {ours['energy_latency_s'] * 1e9:10.1f} ns {'>= ' + format(t_min * 1e9, '.1f') + ' ns':>12s}   "
          "(NeuroSim: 15 + 10 multiplexed reads of at least 5 ns)")
    cells = n_in * n_h + n_h * n_out
    print(f"  {'cell area':38s} {ours['energy_area_cells_m2'] * 1e12:10.1f} um^2 {cells * card.cell_area_m2 * 1e12:9.1f} um^2   "
          f"(NeuroSim: {cells} cells of 4F x 4F, no reference column)")
    print(f"  total per training image (neurosim): {ours['energy_J'] * 1e9:.2f} nJ; per test image: {ours['energy_test_J'] * 1e9:.3f} nJ; "
          f"area {ours['energy_area_m2'] * 1e6:.4f} mm^2")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
