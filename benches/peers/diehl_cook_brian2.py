#!/usr/bin/env python3
"""Diehl & Cook (2015) in Brian 2 (C++ standalone), following the authors' reference code
(Brian 1, `Diehl&Cook_spiking_MNIST.py`): the independent reference for `snn stdp`.

Model as the reference code has it (dt = 0.5 ms, forward Euler as Brian 1 uses for these
non-linear equations):

  excitatory  dv/dt = ((-65 mV - v) + ge (0 - v) + gi (-100 mV - v)) / 100 ms
              dge/dt = -ge / 1 ms, dgi/dt = -gi / 2 ms, dtheta/dt = -theta / 1e7 ms
              spike when v > theta - 20 mV - 52 mV and timer > 5 ms and not refractory (5 ms);
              reset v = -65 mV, theta += 0.05 mV, timer = 0; theta starts at 20 mV.
              V is *not* held during the refractory period (Brian 1's reset is a multi-statement
              string, which it does not combine with a clamp); `dtimer/dt = 100.0 : ms` in Brian
              1's SI arithmetic makes the timer pass 5 ms one step after a spike (`--timer si`,
              default); `--timer ms` reads it as a 50 ms block (Brian 2's own example does).
  inhibitory  dv/dt = ((-60 mV - v) + ge (0 - v) + gi (-85 mV - v)) / 10 ms, held at the reset
              (-45 mV) for the 2 ms refractory period, spike when v > -40 mV.
  synapses    input -> exc all-to-all `ge += w` with triplet STDP (pre = 1, w -= 1e-4 post1 on a
              presynaptic spike; w += 0.01 pre post2(before) and post1 = post2 = 1 on a
              postsynaptic one; traces 20 / 20 / 40 ms; w clipped to [0, 1]); exc -> inh
              one-to-one ge += 10.4; inh -> exc all but the partner gi += 17. Initial weights
              U(0.003, 0.303). No input delays, as `snn stdp` (the reference code draws
              U(0, 10 ms); docs/stdp.md has that experiment). The traces are kept per neuron
              (they are the same for every synapse of a row or column) and decay exactly.
  protocol    Poisson inputs at pixel/8 * intensity Hz (intensity 2, so 63.75 Hz at most) for
              350 ms, then 150 ms without input; fewer than 5 excitatory spikes in the 350 ms:
              show again with intensity + 1 (at most 10 repeats, as `snn stdp`); every incoming
              weight sum of an excitatory neuron normalised to 78 before every presentation.
              Then, frozen (no STDP, theta fixed), a pass over the training images labels each
              neuron with the class of its highest mean response, and the test images are
              classified by the labelled groups' mean spike counts. State carries over between
              images as in the reference code.

The whole loop runs inside the standalone binary: the presentation schedule (next image or
repeat) is a `run_regularly` every 500 ms on a one-neuron controller that counts excitatory
spikes; each phase runs for a fixed simulated time (`--slack` presentations per image), and the
images a phase actually covered are reported (`trained_images` below the requested count means
the phase ran out of time).

Prints one JSON line: accuracy, presentations per phase, mean theta, wall time.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))  # ../shared beside the repository
p_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p_.add_argument("--neurons", type=int, default=100)
p_.add_argument("--train", type=int, default=60000, help="training images (from the start of the set)")
p_.add_argument("--label", type=int, default=None, help="labelling images (default: --train)")
p_.add_argument("--test", type=int, default=10000)
p_.add_argument("--seed", type=int, default=1)
p_.add_argument("--timer", choices=["si", "ms"], default="si")
p_.add_argument("--theta-plus-mv", type=float, default=0.05)
p_.add_argument("--slack", type=float, default=2.6, help="presentations per image budgeted for training")
p_.add_argument("--slack-frozen", type=float, default=2.2, help="same for the frozen passes")
p_.add_argument("--build-dir", default="/tmp/dc_brian2")
p_.add_argument("--data", default=os.environ.get("SNN_DATA", os.path.join(SHARED, "data")),
                help="MNIST in IDX format (default: $SNN_DATA, else ../shared/data)")
a = p_.parse_args()
for name in ("neurons", "train", "test"):
    if getattr(a, name) < 1:
        p_.error(f"--{name} must be at least 1, got {getattr(a, name)}")
if a.label is not None and a.label < 1:
    p_.error(f"--label must be at least 1, got {a.label}")
if not (a.slack >= 1 and a.slack_frozen >= 1):
    p_.error("--slack and --slack-frozen must be at least 1 (presentations budgeted per image)")
if not os.path.isdir(os.path.join(a.data, "mnist")):
    p_.error(f"no MNIST at {os.path.join(a.data, 'mnist')} (set --data or SNN_DATA to the datasets folder)")
n_label = a.label if a.label is not None else a.train

sys.path.insert(0, os.path.join(SHARED, "peers"))  # snn_data.py reads the IDX files
os.environ["SNN_DATA"] = a.data  # snn_data reads it
import snn_data  # noqa: E402
import numpy as np  # noqa: E402
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, StateMonitor, TimedArray, run, ms, mV,  # noqa: E402
                    Hz, second, seed, set_device, defaultclock, device, linked_var)

x_tr, y_tr, x_te, y_te = snn_data.load("mnist")
n_tr = max(a.train, n_label)
table = np.concatenate([x_tr[:n_tr], x_te[:a.test]]).astype(np.float64) * 255.0 / 8.0  # Hz per unit intensity

set_device("cpp_standalone", directory=a.build_dir, build_on_run=False)
defaultclock.dt = 0.5 * ms
seed(a.seed)
np.random.seed(a.seed)
N, N_IN = a.neurons, 784
PRES = 1000  # steps per presentation (500 ms)
ON = 700     # steps with input (350 ms)

pix = TimedArray(table * Hz, dt=1 * ms)

ctrl = NeuronGroup(1, """img : integer
                         boosts : integer
                         count : integer
                         last : integer""", name="ctrl")
ctrl.run_regularly("""adv = int(count >= 5 or boosts >= 10)
                      img = img + adv
                      boosts = (1 - adv) * (boosts + 1)
                      count = 0""", dt=500 * ms, when="start", order=0, name="schedule")

# Input neurons: per-step Bernoulli(rate * dt) spikes, drawn as geometric gaps (the same law;
# one random number per spike instead of one per neuron and step). The presynaptic STDP trace
# `pre` lives here (it is the same for every synapse of a row); it is set to 1 before the
# synapses act, as the reference code's `pre = 1` precedes the weight update.
inp = NeuronGroup(N_IN, """img : integer (linked)
                           boosts : integer (linked)
                           last : integer (linked)
                           p_step : 1
                           next_k : integer
                           pre : 1""",
                  threshold="t_in_timesteps == next_k and t_in_timesteps % 1000 < 700",
                  reset="""pre = 1.
                           next_k = t_in_timesteps + 1 + int(floor(clip(log(1 - rand()) / log(1 - p_step), 0, 100000)))""",
                  name="inp")
zeros = np.zeros(N_IN, dtype=int)
inp.img = linked_var(ctrl, "img", index=zeros)
inp.boosts = linked_var(ctrl, "boosts", index=zeros)
inp.last = linked_var(ctrl, "last", index=zeros)
inp.next_k = -1
inp.run_regularly("""p_step = clip(pix(img * ms, i) * (2 + boosts) * dt * int(img < last), 1e-12, 0.5)
                     next_k = t_in_timesteps + int(floor(clip(log(1 - rand()) / log(1 - p_step), 0, 100000)))""",
                  dt=500 * ms, when="start", order=5, name="new_rates")
inp.run_regularly("pre = pre * decay_20", when="groups", name="pre_decay")
inp.resetter["spike"].when = "before_synapses"

timer_rate = 100.0 if a.timer == "si" else 0.1
theta_plus = a.theta_plus_mv * mV
decay_20, decay_40 = float(np.exp(-0.5 / 20.0)), float(np.exp(-0.5 / 40.0))
exc = NeuronGroup(N, """dv/dt = ((-65*mV - v) + ge * (-v) + gi * (-100*mV - v)) / (100*ms) : volt
                        dge/dt = -ge / (1*ms) : 1
                        dgi/dt = -gi / (2*ms) : 1
                        dtheta/dt = -learning * theta / (1e7*ms) : volt
                        dtimer/dt = timer_rate : second
                        wsum : 1
                        learning : 1
                        img : integer (linked)
                        last : integer (linked)
                        post1 : 1
                        post2 : 1
                        plastic : 1 (shared)""",
                  threshold="v > theta - 72*mV and timer > 5*ms", refractory=5 * ms,
                  reset="v = -65*mV; theta += learning * theta_plus; timer = 0*second; post1 = 1.; post2 = 1.",
                  method="euler", name="exc")
exc.v = -65 * mV
exc.theta = 20 * mV
exc.plastic = 1
exc.img = linked_var(ctrl, "img", index=np.zeros(N, dtype=int))
exc.last = linked_var(ctrl, "last", index=np.zeros(N, dtype=int))
# Learning (STDP, theta's increments and decay, normalisation) only while the phase has images
# left: a phase's budget ends with idle time, in which nothing may change.
exc.run_regularly("learning = plastic * int(img < last)", dt=500 * ms, when="start", order=1,
                  name="learning_on")
# The postsynaptic traces, exact decay each step (as Brian 1's STDP traces); set to 1 by the reset,
# which runs after the synapses, so the post code reads post2 from before the spike.
exc.run_regularly("post1 = post1 * decay_20; post2 = post2 * decay_40", when="groups", name="post_decay")
inh = NeuronGroup(N, """dv/dt = ((-60*mV - v) + ge * (-v) + gi * (-85*mV - v)) / (10*ms) : volt (unless refractory)
                        dge/dt = -ge / (1*ms) : 1
                        dgi/dt = -gi / (2*ms) : 1""",
                  threshold="v > -40*mV", refractory=2 * ms, reset="v = -45*mV", method="euler", name="inh")
inh.v = -60 * mV

S = Synapses(inp, exc, "w : 1",
             on_pre="""ge_post += w
                       w = clip(w - learning_post * 0.0001 * post1_post, 0, 1)""",
             on_post="w = clip(w + learning_post * 0.01 * pre_pre * post2_post, 0, 1)", name="inp_exc")
S.connect()
S.w = (np.random.random(N_IN * N) + 0.01) * 0.3
# Normalisation before every presentation (at the 500 ms boundary, before anything integrates).
exc.run_regularly("wsum = 0", dt=500 * ms, when="start", order=2, name="wsum_zero")
S.run_regularly("wsum_post += w", dt=500 * ms, when="start", order=3, name="wsum_add")
S.run_regularly("w = w * (learning_post * 78 / wsum_post + (1 - learning_post))", dt=500 * ms, when="start",
                order=4, name="normalise")

ei = Synapses(exc, inh, on_pre="ge_post += 10.4", name="exc_inh")
ei.connect(j="i")
ie = Synapses(inh, exc, on_pre="gi_post += 17.0", name="inh_exc")
ie.connect(condition="i != j")
counter = Synapses(exc, ctrl, on_pre="count_post += int(t_in_timesteps % 1000 < 700)", name="counter")
counter.connect()

spikes = SpikeMonitor(exc, name="spikes")
sched = StateMonitor(ctrl, ["img", "boosts"], record=0, dt=500 * ms, when="start", order=10, name="sched")
# The thresholds' adaptation, sampled about 20 times over the training budget (at presentation
# boundaries) and on through the frozen passes.
theta_every = max(1, int(np.ceil(a.train * a.slack)) // 20)  # presentations
theta_mon = StateMonitor(exc, "theta", record=True, dt=theta_every * 500 * ms, when="start", order=11,
                         name="theta_mon")


def budget(images, slack):
    return int(np.ceil(images * slack)) * 500 * ms


# Phase 1: training on images 0 .. train-1.
ctrl.img = -1
ctrl.count = 5
ctrl.last = a.train
run(budget(a.train, a.slack), report=None)
# Phase 2: frozen labelling pass over images 0 .. label-1.
exc.plastic = 0
ctrl.img = -1
ctrl.count = 5
ctrl.boosts = 0
ctrl.last = n_label
run(budget(n_label, a.slack_frozen), report=None)
# Phase 3: frozen test pass.
ctrl.img = n_tr - 1
ctrl.count = 5
ctrl.boosts = 0
ctrl.last = n_tr + a.test
run(budget(a.test, a.slack_frozen), report=None)

t0 = time.time()
device.build(directory=a.build_dir, compile=True, run=True, debug=False)
wall = time.time() - t0

img = np.asarray(sched.img[0]).astype(np.int64)
steps = np.rint(np.asarray(spikes.t / second) / 0.0005).astype(np.int64)
idx = np.asarray(spikes.i).astype(np.int64)
n_windows = len(img)
w_train = int(np.ceil(a.train * a.slack))
w_label = int(np.ceil(n_label * a.slack_frozen))
w_test = int(np.ceil(a.test * a.slack_frozen))
phases = [(0, w_train), (w_train, w_train + w_label), (w_train + w_label, w_train + w_label + w_test)]
assert n_windows >= phases[2][1], (n_windows, phases)


def final_responses(lo, hi, first_img, n_img):
    """Spike counts of the last presentation of each image in windows [lo, hi)."""
    win = steps // PRES
    keep = (win >= lo) & (win < hi) & (steps % PRES < ON)
    counts = np.zeros((hi - lo, N), dtype=np.int32)
    np.add.at(counts, (win[keep] - lo, idx[keep]), 1)
    imgs = img[lo:hi]
    nxt = np.append(img[lo + 1:hi], -2)
    last_of_image = (imgs != nxt) & (imgs >= first_img) & (imgs < first_img + n_img)
    resp = np.zeros((n_img, N), dtype=np.int32)
    covered = imgs[last_of_image] - first_img
    resp[covered] = counts[last_of_image]
    presentations = int(((imgs >= first_img) & (imgs < first_img + n_img)).sum())
    return resp, len(np.unique(covered)), presentations


_, trained, pres_train = final_responses(*phases[0], 0, a.train)
resp_l, labelled, pres_label = final_responses(*phases[1], 0, n_label)
resp_t, tested, pres_test = final_responses(*phases[2], n_tr, a.test)
# A phase that ran out of time leaves its last image unfinished: count only finished ones.
mean_by_class = np.zeros((10, N))
for c in range(10):
    rows = y_tr[:labelled] == c
    if rows.any():
        mean_by_class[c] = resp_l[:labelled][rows].mean(axis=0)
assign = mean_by_class.argmax(axis=0)
scores = np.zeros((tested, 10))
for c in range(10):
    members = assign == c
    if members.any():
        scores[:, c] = resp_t[:tested][:, members].mean(axis=1)
pred = scores.argmax(axis=1)
acc = float((pred == y_te[:tested]).mean()) if tested else 0.0
# Theta (minus the reference code's 20 mV offset, so 0 is the paper's -52 mV threshold) at the
# end of training, and the training's excitatory activity.
th = np.asarray(theta_mon.theta / mV) - 20.0  # (neurons, samples)
th_t = np.asarray(theta_mon.t / second)
# Theta is frozen once the training images are done (learning = 0), so the first sample at or after
# the end of training holds exactly the trained thresholds.
end_train = min(int(np.searchsorted(th_t, pres_train * 0.5 - 1e-6, side="left")), th.shape[1] - 1)
th_end = th[:, end_train]
win_all = steps // PRES
in_train = (win_all < w_train) & (steps % PRES < ON)
late = in_train & (win_all >= int(pres_train * 0.9)) & (win_all < pres_train)
print(json.dumps({
    "neurons": N, "seed": a.seed, "timer": a.timer, "theta_plus_mv": a.theta_plus_mv,
    "trained_images": trained, "train_presentations": pres_train,
    "labelled_images": labelled, "label_presentations": pres_label,
    "tested_images": tested, "test_presentations": pres_test,
    "accuracy": acc,
    "theta_end_train_mv": {"mean": float(th_end.mean()), "min": float(th_end.min()),
                           "median": float(np.median(th_end)), "max": float(th_end.max())},
    "theta_trajectory_every_s": theta_every * 0.5,
    "theta_trajectory_mean_mv": [round(float(x), 3) for x in th.mean(axis=0)],
    "train_spikes_per_presentation": float(in_train.sum() / max(pres_train, 1)),
    "neurons_firing_last_tenth": int(len(np.unique(idx[late]))),
    "wall_s": wall,
}))
