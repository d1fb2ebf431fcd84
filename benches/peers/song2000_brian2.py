#!/usr/bin/env python3
"""Song, Miller & Abbott (2000) in Brian2, with the parameters of Brian2's own example of the
paper (synapses/STDP): the reference for `examples/song2000.toml` (`snn simulate`).

Model: 1,000 Poisson inputs at 15 Hz onto one neuron,

    dv/dt  = (ge*(Ee-vr) + El - v)/taum : volt   (the synaptic current linearised at vr)
    dge/dt = -ge/taue : 1
    threshold v>vt, reset v=vr; taum 10 ms, taue 5 ms, Ee 0, vt -54, vr -60, El -74 mV

and additive all-to-all pair STDP on the input synapses: on a pre spike ge += w, Apre += dApre,
w = clip(w + Apost, 0, gmax); on a post spike Apost += dApost, w = clip(w + Apre, 0, gmax);
tau_pre = tau_post = 20 ms, gmax = 0.01, dApre = 0.01 gmax, dApost = -1.05 dApre; w0 ~ U(0, gmax).

Prints one JSON line: the weights' mean, the fractions in the lowest and highest tenth of
[0, gmax] (as `snn simulate`'s summary), the output spikes in the first and the last 10 s.
"""
import argparse
import json

p_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p_.add_argument("--t-sim-s", type=float, default=100.0)
p_.add_argument("--seed", type=int, default=1)
p_.add_argument("--build-dir", default=None, help="cpp_standalone build directory (default: numpy runtime)")
a = p_.parse_args()

from brian2 import (PoissonGroup, NeuronGroup, Synapses, SpikeMonitor, run, ms, mV, Hz, second,
                    seed, set_device, defaultclock, prefs)
import numpy as np

if a.build_dir:
    set_device("cpp_standalone", directory=a.build_dir)
seed(a.seed)
defaultclock.dt = 0.1 * ms

N, F = 1000, 15 * Hz
taum, taupre, taupost, taue = 10 * ms, 20 * ms, 20 * ms, 5 * ms
Ee, vt, vr, El = 0 * mV, -54 * mV, -60 * mV, -74 * mV
gmax = 0.01
dApre = 0.01 * gmax
dApost = -dApre * taupre / taupost * 1.05

inp = PoissonGroup(N, rates=F)
neuron = NeuronGroup(1, """dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
                           dge/dt = -ge / taue : 1""",
                     threshold="v>vt", reset="v = vr", method="exact")
neuron.v = vr
S = Synapses(inp, neuron,
             """w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)""",
             on_pre="""ge += w
                       Apre += dApre
                       w = clip(w + Apost, 0, gmax)""",
             on_post="""Apost += dApost
                        w = clip(w + Apre, 0, gmax)""")
S.connect()
S.w = "rand() * gmax"
out = SpikeMonitor(neuron)
run(a.t_sim_s * second)

w = np.asarray(S.w[:]) / gmax
t = np.asarray(out.t / second)
print(json.dumps({
    "t_sim_s": a.t_sim_s, "seed": a.seed,
    "mean_w_over_gmax": float(w.mean()),
    "low_tenth": float((w < 0.1).mean()), "high_tenth": float((w > 0.9).mean()),
    "out_spikes_first_10s": int((t < 10).sum()),
    "out_spikes_last_10s": int((t >= a.t_sim_s - 10).sum()),
}))
