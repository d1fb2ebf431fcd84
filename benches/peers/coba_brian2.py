#!/usr/bin/env python3
"""COBA benchmark (Brette et al. 2007, benchmark 1; Vogels & Abbott 2005) in Brian2, the
counterpart of `snn simulate --network coba` (snn_core::models::coba), in the style of
/work/shared/peers/cuba_brian2.py.

Model (Brian2's examples/COBA.py equations, with the snn kick-start):

    dv/dt  = (ge*(Ee-v) + gi*(Ei-v) - (v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : 1          dgi/dt = -gi/taui : 1       (units of g_L)
    threshold v>Vt, reset v=Vr, refractory 5 ms, v0 ~ U(Vr, Vt)
    taum 20 ms, taue 5 ms, taui 10 ms, El = Vr = -60 mV, Vt = -50 mV, Ee 0 mV, Ei -80 mV
    we = 0.6 (6 nS / g_L 10 nS), wi = 6.7 (67 nS), p = 0.02, exponential Euler, dt 0.1 ms

As in snn's coba(), the network is started by independent 100 Hz Poisson input of weight we on
ge to every neuron during the first 50 ms (a PoissonInput switched off afterwards), then runs
self-sustained. The simulation is two network runs (50 ms with the input, the rest without);
run_s / run_cpu_s are the sums over both, measured inside the standalone binary.

Prints exactly one JSON line on stdout (same keys as cuba_brian2.py where they apply).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

p_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p_.add_argument("--N", type=int, default=4000)
p_.add_argument("--t-sim-ms", type=float, default=1000.0)
p_.add_argument("--seed", type=int, default=1)
p_.add_argument("--build-dir", default=None, help="cpp_standalone project dir (default: temp dir)")
args = p_.parse_args()

import brian2 as b2  # noqa: E402
from brian2 import Hz, ms, mV  # noqa: E402

tmpdir = None
if args.build_dir is None:
    tmpdir = tempfile.mkdtemp(prefix="coba_b2_")
    build_dir = tmpdir
else:
    build_dir = args.build_dir
b2.set_device("cpp_standalone", build_on_run=False, directory=build_dir)
b2.prefs.devices.cpp_standalone.openmp_threads = 0
b2.seed(args.seed)
b2.defaultclock.dt = 0.1 * ms

N = args.N
NE = int(round(0.8 * N))
taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -60 * mV
Ee, Ei = 0 * mV, -80 * mV
we, wi = 6.0 / 10.0, 67.0 / 10.0
kick_ms = min(50.0, args.t_sim_ms)

eqs = """
dv/dt  = (ge*(Ee-v) + gi*(Ei-v) - (v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""
P = b2.NeuronGroup(N, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                   method="exponential_euler")
P.v = "Vr + rand() * (Vt - Vr)"
P.ge = 0
P.gi = 0
Ce = b2.Synapses(P, P, on_pre="ge += we")
Ci = b2.Synapses(P, P, on_pre="gi += wi")
Ce.connect(f"i<{NE} and i != j", p=0.02)
Ci.connect(f"i>={NE} and i != j", p=0.02)
kick = b2.PoissonInput(P, "ge", N=1, rate=100 * Hz, weight=we)
s_mon = b2.SpikeMonitor(P)
net = b2.Network(P, Ce, Ci, kick, s_mon)

dev = b2.get_device()
cpu_file = os.path.join(os.path.abspath(build_dir), "run_cpu_s.txt")
dev.insert_code("after_start", "double __cpu0 = 0, __cpu_sum = 0, __wall_sum = 0;"
                " std::chrono::steady_clock::time_point __w0;")
dev.insert_code("before_network_run",
                "__cpu0 = (double)std::clock() / CLOCKS_PER_SEC; __w0 = std::chrono::steady_clock::now();")
dev.insert_code("after_network_run",
                "{ __cpu_sum += (double)std::clock() / CLOCKS_PER_SEC - __cpu0;"
                " __wall_sum += std::chrono::duration<double>(std::chrono::steady_clock::now() - __w0).count();"
                f" FILE* __f = fopen(\"{cpu_file}\", \"w\");"
                " if (__f) { fprintf(__f, \"%.6f %.6f\", __cpu_sum, __wall_sum); fclose(__f); } }")
dev.headers.append("<chrono>")
net.run(kick_ms * ms)
kick.active = False
if args.t_sim_ms > kick_ms:
    net.run((args.t_sim_ms - kick_ms) * ms)
tc0 = time.perf_counter()
dev.build(directory=build_dir, compile=True, run=False, with_output=False)
compile_s = time.perf_counter() - tc0
load0 = os.getloadavg()[0]
tb0 = time.perf_counter()
dev.run(directory=build_dir, with_output=False)
t_binary = time.perf_counter() - tb0
run_cpu_s, run_s = (float(x) for x in open(cpu_file).read().split())
n_syn = int(Ce.N[:]) + int(Ci.N[:])
spikes = int(s_mon.num_spikes)
t_sim_s = args.t_sim_ms / 1000.0
print(json.dumps({
    "sim": "brian2", "version": b2.__version__, "target": "cpp_standalone", "model": "coba",
    "N": N, "seed": args.seed, "t_sim_ms": args.t_sim_ms, "synapses": n_syn,
    "compile_s": round(compile_s, 4), "binary_total_s": round(t_binary, 4),
    "run_s": round(run_s, 4), "run_cpu_s": round(run_cpu_s, 4), "spikes": spikes,
    "mean_rate_hz": spikes / N / t_sim_s, "rtf": run_s / t_sim_s,
    "loadavg1_start": load0, "loadavg1_end": os.getloadavg()[0],
}), flush=True)
if tmpdir is not None:
    shutil.rmtree(tmpdir, ignore_errors=True)
