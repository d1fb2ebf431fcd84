#!/usr/bin/env python3
"""Does the MLP reference discriminate between reset semantics? Re-runs the 40 reference samples
of snntorch/digits_mlp_reference.json from digits_mlp.nir (numpy float32) under 3 semantics and
counts samples whose (hidden+output) spike counts equal the reference; also counts exact ties
mem == thr (where '>' vs '>=' matters).  Run: /work/nir-venv/bin/python check_semantics.py"""
import json, numpy as np, nir
g = nir.read("snntorch/digits_mlp.nir"); n = g.nodes
ref = json.load(open("snntorch/digits_mlp_reference.json"))
f32 = np.float32
beta = {k: (1 - 1e-4 / n[k].tau.astype(np.float64)).astype(f32) for k in ("1", "3")}
thr = {k: n[k].v_threshold for k in ("1", "3")}
def run(x, mode, ties):
    st = {}; cnt = {"1": 0, "3": 0}
    def lif(k, I):
        m0 = st.get(k, np.zeros_like(I))
        s0 = (m0 > thr[k]).astype(f32)
        if mode == "snntorch":      m = beta[k] * m0 + I - s0 * thr[k]
        elif mode == "sub_now":     m = beta[k] * m0 + I
        elif mode == "zero_now":    m = beta[k] * m0 + I
        ties[0] += int(np.sum(m == thr[k]))
        s = (m > thr[k]).astype(f32)
        if mode == "sub_now":  m = m - s * thr[k]
        if mode == "zero_now": m = m * (1 - s)
        st[k] = m; cnt[k] = cnt[k] + s; return s
    for t in range(x.shape[0]):
        h = lif("1", n["0"].weight @ x[t] + n["0"].bias)
        lif("3", n["2"].weight @ h + n["2"].bias)
    return cnt
for mode in ("snntorch", "sub_now", "zero_now"):
    ok = 0; ties = [0]
    for s in ref["samples"]:
        x = np.zeros((25, 64), f32)
        for t, i in s["input_spikes"]: x[t, i] = 1
        c = run(x, mode, ties)
        ok += (c["3"].astype(int).tolist() == s["output_spike_counts"] and
               c["1"].astype(int).tolist() == s["hidden_spike_counts"])
    print(f"{mode:9s}: {ok}/40 samples match reference counts; exact ties mem==thr: {ties[0]}")
