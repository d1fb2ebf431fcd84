#!/usr/bin/env python3
"""snnTorch -> NIR golden networks with reference spike counts (8x8 digits).

Run:  /work/nir-venv/bin/python /work/nir-golden/make_snntorch.py          (both nets)
      /work/nir-venv/bin/python /work/nir-golden/make_snntorch.py mlp      (only the MLP)

For each net (mlp, conv) it
  1. trains a small snnTorch net (seeded, CPU, a few seconds) on the provided train split
     (/work/shared/data/digits/digits-train-*-idx*-ubyte, 1437 samples; test split = 360 samples
     digits-test-*-idx*-ubyte, = rows digits-test-indices.txt of digits.csv),
     rate-coded input: spike[t,i] = rand[t,i] < pixel[i]/16*0.8, 25 steps;
  2. rounds every weight and bias to a multiple of 1/64 (all synaptic sums are then exact in
     float32 regardless of summation order) and re-evaluates test accuracy;
  3. exports with snntorch.export_to_nir(net, sample_input, ignore_dims=[0]) and writes
     snntorch/digits_<net>.nir with nir.write (edges sorted, see NOTES.md);
  4. for the first 40 test samples: generates input spikes with a seeded torch.Generator,
     runs the rounded snnTorch net (states reset per sample) and writes
     snntorch/digits_<net>_reference.json (input spikes, output/hidden spike counts and trains);
  5. re-implements the network in numpy float32 from the *.nir file read back with nir.read()
     (beta = 1 - dt/tau with dt = 1e-4, subtract reset with one-step delay) and checks that the
     spike counts are identical on all 40 samples (also with float64, for information).
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

import nir
import snntorch as snn
from snntorch import utils as snnutils
from snntorch.export_nir import export_to_nir

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
OUTDIR = os.path.join(HERE, "snntorch")
os.makedirs(OUTDIR, exist_ok=True)
DATA = "/work/shared/data/digits"
STEPS = 25
N_REF = 40
BETA = 0.875
THR = 1.0
DT = 1e-4  # what snntorch.export_nir assumes (hard-coded)

RESET_DOC = ("subtract, reset_delay=True: reset[t]=H(mem[t-1]-thr); "
             "mem[t]=beta*mem[t-1]+I[t]-reset[t]*thr; spk[t]=H(mem[t]-thr)")


def read_idx(path):
    b = open(path, "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load():
    xtr = read_idx(f"{DATA}/digits-train-images-idx3-ubyte").astype(np.float32)
    ytr = read_idx(f"{DATA}/digits-train-labels-idx1-ubyte").astype(np.int64)
    xte = read_idx(f"{DATA}/digits-test-images-idx3-ubyte").astype(np.float32)
    yte = read_idx(f"{DATA}/digits-test-labels-idx1-ubyte").astype(np.int64)
    return (torch.from_numpy(xtr), torch.from_numpy(ytr),
            torch.from_numpy(xte), torch.from_numpy(yte))


def encode(x, gen):
    """x: (B, 8, 8) pixels 0..16 -> spikes (T, B, 8, 8) float32 {0,1}; p = pixel/16*0.8."""
    p = x / 16.0 * 0.8
    r = torch.rand((STEPS,) + tuple(x.shape), generator=gen)
    return (r < p.unsqueeze(0)).float()


def make_net(kind):
    # NOTE: threshold is a per-neuron ARRAY (value 1.0): with a scalar threshold=1.0,
    # export_to_nir builds nir.LIF(tau=(N,), v_threshold=0-d array) and nir 1.0.8 asserts
    # "All parameters must have the same shape" (same failure as for scalar beta).
    if kind == "mlp":
        # input (B, 64)
        return nn.Sequential(
            nn.Linear(64, 32),
            snn.Leaky(beta=torch.full((32,), BETA), learn_beta=False, threshold=torch.full((32,), THR),
                      reset_mechanism="subtract", init_hidden=True),
            nn.Linear(32, 10),
            snn.Leaky(beta=torch.full((10,), BETA), learn_beta=False, threshold=torch.full((10,), THR),
                      reset_mechanism="subtract", init_hidden=True, output=True),
        )
    # conv: input (B, 1, 8, 8) -> conv 4x6x6 -> Leaky (per-neuron beta (4,6,6)) -> flatten 144
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        snn.Leaky(beta=torch.full((4, 6, 6), BETA), learn_beta=False,
                  threshold=torch.full((4, 6, 6), THR),
                  reset_mechanism="subtract", init_hidden=True),
        nn.Flatten(),
        nn.Linear(144, 10),
        snn.Leaky(beta=torch.full((10,), BETA), learn_beta=False, threshold=torch.full((10,), THR),
                  reset_mechanism="subtract", init_hidden=True, output=True),
    )


def shape_in(kind, spk):
    """spk (T, B, 8, 8) -> per-net input layout."""
    T, B = spk.shape[:2]
    return spk.reshape(T, B, 64) if kind == "mlp" else spk.reshape(T, B, 1, 8, 8)


def run(net, x_t, record_hidden=False):
    """x_t: (T, B, ...). Returns output spikes (T,B,10) and hidden spikes (T,B,...) or None."""
    snnutils.reset(net)
    hid = []
    h = None
    if record_hidden:
        h = net[1].register_forward_hook(lambda m, i, o: hid.append(o.detach().clone()))
    outs = []
    for t in range(x_t.shape[0]):
        spk, _mem = net(x_t[t])
        outs.append(spk)
    if h is not None:
        h.remove()
    return torch.stack(outs), (torch.stack(hid) if record_hidden else None)


def accuracy(net, kind, x, y, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        spk = shape_in(kind, encode(x, gen))
        out, _ = run(net, spk)
        return float((out.sum(0).argmax(1) == y).float().mean())


def train(kind, xtr, ytr, xte, yte):
    torch.manual_seed(0)
    net = make_net(kind)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(1)
    lossf = nn.CrossEntropyLoss()
    epochs = 12 if kind == "mlp" else 10
    bs = 64
    t0 = time.time()
    for ep in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            spk = shape_in(kind, encode(xtr[idx], gen))
            out, _ = run(net, spk)
            loss = lossf(out.sum(0), ytr[idx])  # spike-count logits
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(f"[{kind}] trained {epochs} epochs in {time.time() - t0:.1f}s, last loss {loss.item():.3f}")
    return net


def round_params(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.copy_(torch.round(m.weight * 64) / 64)
                if m.bias is not None:
                    m.bias.copy_(torch.round(m.bias * 64) / 64)


# ------------------------------------------------------------------ numpy re-implementation
def np_reference(graph, kind, spk_in, dtype=np.float32):
    """Re-implement the exported graph from NIR parameters. spk_in: (T, 64) {0,1}.
    Node names are those produced by export_to_nir (Sequential indices)."""
    n = graph.nodes
    beta = {k: (1.0 - DT / n[k].tau.astype(np.float64)).astype(dtype)
            for k in n if isinstance(n[k], nir.LIF)}
    for k in beta:  # r*dt/tau must be 1 (input scale); v_leak = v_reset = 0
        assert np.allclose(n[k].r * DT / n[k].tau, 1.0)
    thr = {k: n[k].v_threshold.astype(dtype) for k in beta}

    def lif(k, I, st):
        mem_prev = st.get(k, np.zeros_like(I))
        reset = (mem_prev - thr[k] > 0).astype(dtype)               # H(mem[t-1]-thr)
        mem = beta[k] * mem_prev + I - reset * thr[k]                  # subtract, delayed
        st[k] = mem
        return (mem - thr[k] > 0).astype(dtype)                        # H(mem[t]-thr)

    st = {}
    outs, hids = [], []
    for t in range(spk_in.shape[0]):
        x = spk_in[t].astype(dtype)
        if kind == "mlp":
            I1 = n["0"].weight.astype(dtype) @ x + n["0"].bias.astype(dtype)
            h = lif("1", I1, st)
            I2 = n["2"].weight.astype(dtype) @ h + n["2"].bias.astype(dtype)
            o = lif("3", I2, st)
        else:
            W = n["0"].weight.astype(dtype)  # (4,1,3,3), stride 1, pad 0
            img = x.reshape(8, 8)
            patches = np.stack([img[i:i + 6, j:j + 6] for i in range(3) for j in range(3)])  # (9,6,6)
            I1 = np.einsum("ok,kij->oij", W.reshape(4, 9), patches) + n["0"].bias.astype(dtype)[:, None, None]
            h = lif("1", I1.astype(dtype), st)
            I2 = n["3"].weight.astype(dtype) @ h.reshape(-1) + n["3"].bias.astype(dtype)
            o = lif("4", I2, st)
        outs.append(o)
        hids.append(h)
    return np.array(outs), np.array(hids)


def versions():
    out = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    keep = [l for l in out.splitlines()
            if l.split("==")[0].lower() in ("nir", "nirtorch", "torch", "snntorch", "numpy", "h5py")]
    return keep + [f"python=={sys.version.split()[0]}"]


def do(kind, data):
    xtr, ytr, xte, yte = data
    net = train(kind, xtr, ytr, xte, yte)
    net.eval()
    acc_f = accuracy(net, kind, xte, yte, seed=7)
    round_params(net)
    acc_r = accuracy(net, kind, xte, yte, seed=7)
    print(f"[{kind}] test acc (360 samples, seed 7 encoding): float {acc_f:.3f}  rounded-1/64 {acc_r:.3f}")

    # ---- export
    sample = torch.zeros((1, 64)) if kind == "mlp" else torch.zeros((1, 1, 8, 8))
    snnutils.reset(net)
    try:
        graph = export_to_nir(net, sample)
        export_note = "export_to_nir(net, sample) without ignore_dims worked"
    except Exception as e:  # noqa: BLE001
        export_note = (f"export_to_nir(net, sample) without ignore_dims FAILED: "
                       f"{type(e).__name__}: {e}; used ignore_dims=[0]")
        print(f"[{kind}] {export_note}")
        snnutils.reset(net)
        graph = export_to_nir(net, sample, ignore_dims=[0])
    graph.edges = sorted(graph.edges)  # export_to_nir returns list(set(edges)): hash-order
    nir_path = os.path.join(OUTDIR, f"digits_{kind}.nir")
    nir.write(nir_path, graph)
    g2 = nir.read(nir_path)  # type_check=True
    print(f"[{kind}] nodes:", {k: type(v).__name__ for k, v in g2.nodes.items()}, "edges:", g2.edges)

    # ---- reference run (rounded snnTorch net), first N_REF test samples
    gen = torch.Generator().manual_seed(2024)
    samples = []
    mism32 = mism64 = 0
    correct = 0
    with torch.no_grad():
        for s in range(N_REF):
            spk = encode(xte[s:s + 1], gen)                # (T,1,8,8), one sample at a time
            out, hid = run(net, shape_in(kind, spk), record_hidden=True)   # reset inside
            out = out[:, 0].numpy()
            hid = hid[:, 0].reshape(STEPS, -1).numpy()
            x = spk[:, 0].reshape(STEPS, 64).numpy()
            o32, h32 = np_reference(g2, kind, x, np.float32)
            o64, h64 = np_reference(g2, kind, x, np.float64)
            if not (np.array_equal(o32, out) and np.array_equal(h32.reshape(STEPS, -1), hid)):
                mism32 += 1
            if not (np.array_equal(o64.sum(0), out.sum(0)) and
                    np.array_equal(h64.reshape(STEPS, -1).sum(0), hid.sum(0))):
                mism64 += 1
            oc = out.sum(0).astype(int)
            correct += int(np.argmax(oc) == int(yte[s]))
            samples.append({
                "test_index": s,
                "csv_row": None,
                "label": int(yte[s]),
                "input_spikes": [[int(t), int(i)] for t, i in zip(*np.nonzero(x))],
                "output_spike_counts": [int(c) for c in oc],
                "hidden_spike_counts": [int(c) for c in hid.sum(0)],
                "output_spikes": [[int(t), int(i)] for t, i in zip(*np.nonzero(out))],
                "hidden_spikes": [[int(t), int(i)] for t, i in zip(*np.nonzero(hid))],
            })
    rows = np.loadtxt(f"{DATA}/digits-test-indices.txt", dtype=np.int64)
    for smp in samples:
        smp["csv_row"] = int(rows[smp["test_index"]])
    print(f"[{kind}] numpy float32 re-impl: {N_REF - mism32}/{N_REF} samples identical "
          f"(spike trains, hidden+output); float64 counts identical on {N_REF - mism64}/{N_REF}; "
          f"argmax(count)==label on {correct}/{N_REF}")

    lifs = {k: v for k, v in g2.nodes.items() if isinstance(v, nir.LIF)}
    ref = {
        "net": kind,
        "nir_file": f"digits_{kind}.nir",
        "steps": STEPS,
        "n_inputs": 64,
        "input_layout": ("flat 64 = row-major 8x8 pixels" if kind == "mlp"
                         else "NIR input [1,8,8]; index i = row*8+col (flattened C,H,W)"),
        "hidden_layout": ("32 neurons" if kind == "mlp"
                          else "144 = flattened (C=4,H=6,W=6), index c*36+h*6+w"),
        "encoding": "spike[t,i] = torch.rand(T,1,8,8, generator=torch.Generator().manual_seed(2024), "
                    "drawn sequentially per sample)[t,0,..].flatten()[i] < pixel[i]/16*0.8",
        "data": "test split = digits-test-*-idx*-ubyte (360 samples); test_index s is the s-th "
                "sample of that split, csv_row its 0-based line in digits.csv",
        "snntorch_reset": RESET_DOC,
        "beta": BETA, "threshold": THR, "dt_assumed_by_export": DT,
        "weights": "all weights and biases are multiples of 1/64 (rounded after training)",
        "test_accuracy_360_float_weights": acc_f,
        "test_accuracy_360_rounded_weights": acc_r,
        "numpy_float32_reimpl_identical_samples": N_REF - mism32,
        "numpy_float64_reimpl_identical_count_samples": N_REF - mism64,
        "export_call": export_note,
        "nir_lif_params_example": {k: {"tau[0]": float(v.tau.reshape(-1)[0]),
                                       "r[0]": float(v.r.reshape(-1)[0]),
                                       "v_threshold": v.v_threshold.tolist() if v.v_threshold.ndim == 0
                                       else float(v.v_threshold.reshape(-1)[0]),
                                       "v_threshold_shape": list(v.v_threshold.shape),
                                       "tau_shape": list(v.tau.shape)}
                                   for k, v in lifs.items()},
        "versions": versions(),
        "samples": samples,
    }
    with open(os.path.join(OUTDIR, f"digits_{kind}_reference.json"), "w") as fh:
        json.dump(ref, fh)
    return mism32


def main():
    kinds = sys.argv[1:] or ["mlp", "conv"]
    data = load()
    bad = 0
    for k in kinds:
        bad += do(k, data)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
