#!/usr/bin/env python3
"""Golden NIR files, one per node type, for the Rust NIR reader/writer tests.

Run:  /work/nir-venv/bin/python /work/nir-golden/make_golden.py

Writes, for every case NAME:
  nodes/NAME.nir   -- written with nir.write() (nir's default: gzip on every ndarray dataset)
  nodes/NAME.json  -- sidecar produced by walking the *file on disk* with h5py (not the Python
                      object), so it states exactly what a reader sees: node type, every dataset
                      (HDF5 dtype, shape, flat values as float / int / str) and the edges.
and LAYOUT.txt    -- h5dump-like walk (paths, dtypes, shapes, filters, attributes) of two files.

Every file is read back with nir.read() (type_check=True, i.e. NIRGraph.infer_types()+check_types())
and its parameters are compared exactly with what was written. The only exception is
conv2d_groups.nir (groups=2), which nir 1.0.8 itself cannot type-check on read (see NOTES.md);
it is read back with type_check=False and that fact is recorded in its sidecar.

All float parameter values are float32 multiples of 1/64 (exactly representable); deterministic
(no RNG: values come from np.arange patterns).
"""
import json
import os
import sys

import h5py
import numpy as np

import nir

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nodes")
os.makedirs(OUT, exist_ok=True)

F32 = np.float32


def q(n, start=1, step=1, shape=None, offset=0.0):
    """n float32 values  (start + step*k)/64 + offset, k=0..n-1  (all multiples of 1/64)."""
    v = ((start + step * np.arange(n)) / 64.0 + offset).astype(F32)
    return v.reshape(shape) if shape is not None else v


def signed(n, shape=None):
    """n float32 values in [-1, 1) with alternating signs, multiples of 1/64."""
    k = np.arange(n)
    v = (((k * 7) % 64) - 32) / 64.0
    v = v.astype(F32)
    return v.reshape(shape) if shape is not None else v


def seq_graph(input_shape, nodes, output_shape):
    """input -> nodes[0] -> nodes[1] ... -> output; nodes is a list of (name, node)."""
    d = {"input": nir.Input(input_type=np.array(input_shape))}
    for name, node in nodes:
        d[name] = node
    d["output"] = nir.Output(output_type=np.array(output_shape))
    names = list(d)
    edges = [(names[i], names[i + 1]) for i in range(len(names) - 1)]
    return nir.NIRGraph(nodes=d, edges=edges)


# ---------------------------------------------------------------------------------------------
# Cases. Each returns (graph, read_type_check). Shapes in NIR exclude the batch dimension.
# ---------------------------------------------------------------------------------------------
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def input_output():
    # Smallest graph: Input([3]) -> Output([3]); tests the Input/Output "shape" dataset (int64).
    return seq_graph([3], [], [3]), True


@case
def input_output_2d():
    # Input/Output with a multi-dimensional shape [2, 3, 4] (C, H, W).
    return seq_graph([2, 3, 4], [], [2, 3, 4]), True


@case
def affine():
    # Affine: y = W x + b, W (3x4) row-major [out, in], b (3,).
    return seq_graph([4], [("affine", nir.Affine(weight=signed(12, (3, 4)), bias=q(3)))], [3]), True


@case
def linear():
    # Linear: y = W x, W (2x5).
    return seq_graph([5], [("linear", nir.Linear(weight=signed(10, (2, 5))))], [2]), True


@case
def scale():
    # Scale: y = x * s elementwise, s (4,).
    return seq_graph([4], [("scale", nir.Scale(scale=q(4, start=32, step=16)))], [4]), True


@case
def conv1d():
    # Conv1d: weight (C_out=2, C_in=1, K=3), stride=2, padding=1, dilation=1, groups=1,
    # input [1, 7] -> output [2, floor((7+2-2-1)/2)+1 = 4]. input_shape left None -> inferred (7).
    conv = nir.Conv1d(input_shape=None, weight=signed(6, (2, 1, 3)), stride=2, padding=1,
                      dilation=1, groups=1, bias=q(2))
    return seq_graph([1, 7], [("conv", conv)], [2, 4]), True


@case
def conv2d():
    # Conv2d with all defaults: weight (2,1,3,3), stride 1, padding 0, dilation 1, groups 1.
    # input [1,5,5] -> output [2,3,3].
    conv = nir.Conv2d(input_shape=None, weight=signed(18, (2, 1, 3, 3)), stride=1, padding=0,
                      dilation=1, groups=1, bias=q(2))
    return seq_graph([1, 5, 5], [("conv", conv)], [2, 3, 3]), True


@case
def conv2d_strided():
    # Conv2d with non-default stride=(2,1), padding=(1,2), dilation=(2,1) (groups=1):
    # weight (3,2,3,3), input [2,7,6]:
    #   H: floor((7 + 2*1 - 2*(3-1) - 1)/2) + 1 = 3
    #   W: floor((6 + 2*2 - 1*(3-1) - 1)/1) + 1 = 8   (nir uses weight.shape[2] as kernel size
    #   for both axes -> only square kernels are inferred correctly; this one is square)
    conv = nir.Conv2d(input_shape=None, weight=signed(54, (3, 2, 3, 3)), stride=(2, 1),
                      padding=(1, 2), dilation=(2, 1), groups=1, bias=q(3, start=-2))
    return seq_graph([2, 7, 6], [("conv", conv)], [3, 3, 8]), True


@case
def conv2d_groups():
    # Conv2d with groups=2: C_in=4, C_out=2, weight (2, 4/2=2, 2, 2), stride 1, padding 1,
    # dilation 1; input [4,3,3] -> output [2,4,4].
    # QUIRK: nir 1.0.8 Conv2d.__post_init__ sets input_type = [weight.shape[1], *input_shape]
    # = [2,3,3] when input_shape is known (it is after infer_types and after reading), so
    # nir.read(type_check=True) fails with a type mismatch. We read it back with type_check=False.
    conv = nir.Conv2d(input_shape=None, weight=signed(16, (2, 2, 2, 2)), stride=1, padding=1,
                      dilation=1, groups=2, bias=q(2))
    return seq_graph([4, 3, 3], [("conv", conv)], [2, 4, 4]), False


@case
def flatten():
    # Flatten start_dim=0, end_dim=-1 (NIR dims exclude batch): [2,3,4] -> [24].
    # Flatten stores its own input_type dataset (int64 [2,3,4]).
    fl = nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=0, end_dim=-1)
    return seq_graph([2, 3, 4], [("flatten", fl)], [24]), True


@case
def sumpool2d():
    # SumPool2d kernel (2,2), stride (2,2), padding (0,0): [2,4,6] -> [2,2,3].
    # SumPool2d has no shape datasets; shapes only come from graph inference.
    p = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                      padding=np.array([0, 0]))
    return seq_graph([2, 4, 6], [("pool", p)], [2, 2, 3]), True


@case
def avgpool2d():
    # AvgPool2d kernel (3,3), stride (1,2), padding (1,1): [1,5,5] -> [1,5,3].
    p = nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([1, 2]),
                      padding=np.array([1, 1]))
    return seq_graph([1, 5, 5], [("pool", p)], [1, 5, 3]), True


@case
def delay():
    # Delay per element (float32 delays, time units), shape (3,).
    return seq_graph([3], [("delay", nir.Delay(delay=q(3, start=64, step=64)))], [3]), True


@case
def threshold():
    # Threshold (Heaviside, per element), shape (4,).
    return seq_graph([4], [("threshold", nir.Threshold(threshold=q(4, start=16, step=16)))], [4]), True


@case
def i_node():
    # I (integrator): r per neuron.
    return seq_graph([3], [("i", nir.I(r=q(3, start=64, step=32)))], [3]), True


@case
def if_node():
    # IF: r, v_threshold, v_reset per neuron.
    n = nir.IF(r=q(3, start=64, step=32), v_threshold=q(3, start=64, step=16),
               v_reset=q(3, start=-8, step=4))
    return seq_graph([3], [("if", n)], [3]), True


@case
def li():
    # LI: tau, r, v_leak per neuron.
    n = nir.LI(tau=q(3, start=8, step=8), r=q(3, start=64, step=32), v_leak=q(3, start=-4, step=4))
    return seq_graph([3], [("li", n)], [3]), True


@case
def lif():
    # LIF: tau, r, v_leak, v_threshold, v_reset per neuron.
    n = nir.LIF(tau=q(4, start=8, step=8), r=q(4, start=64, step=32), v_leak=q(4, start=-4, step=4),
                v_threshold=q(4, start=64, step=16), v_reset=q(4, start=-8, step=4))
    return seq_graph([4], [("lif", n)], [4]), True


@case
def cubali():
    # CubaLI: tau_syn, tau_mem, r, v_leak, w_in per neuron.
    n = nir.CubaLI(tau_syn=q(3, start=4, step=4), tau_mem=q(3, start=8, step=8),
                   r=q(3, start=64, step=32), v_leak=q(3, start=-4, step=4),
                   w_in=q(3, start=32, step=32))
    return seq_graph([3], [("cubali", n)], [3]), True


@case
def cubalif():
    # CubaLIF: tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in per neuron.
    n = nir.CubaLIF(tau_syn=q(4, start=4, step=4), tau_mem=q(4, start=8, step=8),
                    r=q(4, start=64, step=32), v_leak=q(4, start=-4, step=4),
                    v_threshold=q(4, start=64, step=16), v_reset=q(4, start=-8, step=4),
                    w_in=q(4, start=32, step=32))
    return seq_graph([4], [("cubalif", n)], [4]), True


@case
def nested_graph():
    # Outer: input[4] -> affine(4->3) -> sub -> output[3]; sub is a NIRGraph node with its own
    # Input/Output nodes: sub.input[3] -> sub.lif -> sub.output[3]. Also an Affine+LIF chain so
    # the outer graph has more than one real node.
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([3])),
            "lif": nir.LIF(tau=q(3, start=8, step=8), r=q(3, start=64, step=0),
                           v_leak=np.zeros(3, F32), v_threshold=q(3, start=64, step=0),
                           v_reset=np.zeros(3, F32)),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "lif"), ("lif", "output")],
    )
    return seq_graph([4], [("affine", nir.Affine(weight=signed(12, (3, 4)), bias=q(3))),
                           ("sub", sub)], [3]), True


@case
def recurrent_graph():
    # Recurrent subgraph exactly like snnTorch's RLeaky export: input -> lif -> w_rec -> lif
    # (a cycle), lif -> output. Edges are not in topological order. Tests cyclic edges.
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2])),
            "lif": nir.LIF(tau=q(2, start=8, step=8), r=q(2, start=64, step=0),
                           v_leak=np.zeros(2, F32), v_threshold=q(2, start=64, step=0),
                           v_reset=np.zeros(2, F32)),
            "w_rec": nir.Linear(weight=signed(4, (2, 2))),
            "output": nir.Output(output_type=np.array([2])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    return g, True


# ---------------------------------------------------------------------------------------------
# Sidecar: walk the file on disk.
# ---------------------------------------------------------------------------------------------
def ds_to_json(ds):
    v = ds[()]
    ent = {"hdf5_dtype": str(ds.dtype), "shape": list(ds.shape),
           "compression": ds.compression}
    if h5py.check_string_dtype(ds.dtype) is not None:
        arr = np.asarray(v, dtype=object).reshape(-1)
        ent["kind"] = "string"
        ent["values"] = [x.decode("utf8") if isinstance(x, bytes) else str(x) for x in arr]
    elif ds.dtype.kind == "f":
        ent["kind"] = "float"
        ent["values"] = [float(x) for x in np.asarray(v).reshape(-1)]
    elif ds.dtype.kind in "iu":
        ent["kind"] = "int"
        ent["values"] = [int(x) for x in np.asarray(v).reshape(-1)]
    else:
        raise TypeError(ds.dtype)
    return ent


def node_to_json(g):
    t = g["type"][()]
    t = t.decode("utf8") if isinstance(t, bytes) else t
    out = {"type": t}
    if t == "NIRGraph":
        out["nodes"] = {k: node_to_json(g["nodes"][k]) for k in g["nodes"].keys()}
        e = g["edges"][()]
        out["edges"] = [[a.decode("utf8"), b.decode("utf8")] for a, b in e]
        out["edges_dataset"] = {k: v for k, v in ds_to_json(g["edges"]).items() if k != "values"}
        if "metadata" in g:
            out["metadata_present"] = True
    else:
        out["params"] = {k: ds_to_json(g[k]) for k in g.keys()
                         if k != "type" and isinstance(g[k], h5py.Dataset)}
    return out


def layout(path):
    lines = [f"# {os.path.relpath(path, HERE)}"]
    with h5py.File(path, "r") as f:
        def attrs(o, ind):
            for k, v in o.attrs.items():
                lines.append(f"{ind}  @{k} = {v!r}")

        lines.append("/  (group)")
        attrs(f, "")

        def visit(name, obj):
            ind = "  " * name.count("/")
            if isinstance(obj, h5py.Group):
                lines.append(f"{ind}/{name}  (group)")
            else:
                strinfo = h5py.check_string_dtype(obj.dtype)
                dt = (f"string(encoding={strinfo.encoding}, length="
                      f"{'variable' if strinfo.length is None else strinfo.length})"
                      if strinfo else str(obj.dtype))
                tid = obj.id.get_type()
                extra = ""
                if strinfo:
                    extra = f" h5t_cset={'UTF8' if tid.get_cset() == h5py.h5t.CSET_UTF8 else 'ASCII'}"
                v = obj[()]
                if np.asarray(v).size <= 8:
                    vs = repr(v.tolist() if isinstance(v, np.ndarray) else v)
                else:
                    vs = f"<{np.asarray(v).size} values>"
                layout_cls = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous",
                              h5py.h5d.CHUNKED: "chunked"}[obj.id.get_create_plist().get_layout()]
                lines.append(
                    f"{ind}/{name}  (dataset) dtype={dt}{extra} shape={obj.shape} "
                    f"layout={layout_cls} chunks={obj.chunks} compression={obj.compression}"
                    f"{'' if obj.compression_opts is None else '(' + str(obj.compression_opts) + ')'}"
                    f" shuffle={obj.shuffle} value={vs}")
            attrs(obj, ind)

        f.visititems(visit)
    return "\n".join(lines) + "\n"


def compare_nodes(a, b, path, types=True):
    """Exact comparison of written object (after graph inference) and the read-back object."""
    da, db = a.to_dict(), b.to_dict()
    assert da["type"] == db["type"], (path, da["type"], db["type"])
    if da["type"] == "NIRGraph":
        assert set(a.nodes) == set(b.nodes), path
        ea = sorted(tuple(e) for e in a.edges)
        eb = sorted(tuple(e) for e in b.edges)
        assert ea == eb, (path, ea, eb)
        for k in a.nodes:
            compare_nodes(a.nodes[k], b.nodes[k], f"{path}/{k}", types)
        return
    for k, v in da.items():
        if k in ("type", "metadata"):
            continue
        w = db[k]
        assert np.array_equal(np.asarray(v), np.asarray(w)), (path, k, v, w)
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            assert np.asarray(w).dtype == v.dtype, (path, k, v.dtype, np.asarray(w).dtype)
    # input/output types after reading (needs type_check=True to be populated for pools)
    for attr in ("input_type", "output_type") if types else ():
        ta, tb = getattr(a, attr), getattr(b, attr)
        if ta is not None and tb is not None and all(x is not None for x in tb.values()):
            for k in ta:
                if ta[k] is not None:
                    assert np.array_equal(np.asarray(ta[k]), np.asarray(tb[k])), (path, attr, ta, tb)


def main():
    report = []
    for name, fn in CASES.items():
        g, tc = fn()
        path = os.path.join(OUT, f"{name}.nir")
        nir.write(path, g)
        g2 = nir.read(path, type_check=tc)
        compare_nodes(g, g2, name, types=tc)
        if not tc:
            try:
                nir.read(path, type_check=True)
                strict = "ok"
            except Exception as e:  # noqa: BLE001
                strict = f"{type(e).__name__}: {e}"
        else:
            strict = "ok"
        with h5py.File(path, "r") as f:
            side = {
                "file": f"{name}.nir",
                "nir_version_dataset": f["version"][()].decode("utf8"),
                "read_with_type_check": tc,
                "nir_read_type_check_true": strict,
                "graph": node_to_json(f["node"]),
                # types as nir.read() infers them (int lists), for every top-level node
                "inferred_types": {
                    k: {"input": None if n.input_type is None else
                        {kk: (None if vv is None else [int(x) for x in np.asarray(vv).reshape(-1)])
                         for kk, vv in n.input_type.items()},
                        "output": None if n.output_type is None else
                        {kk: (None if vv is None else [int(x) for x in np.asarray(vv).reshape(-1)])
                         for kk, vv in n.output_type.items()}}
                    for k, n in g2.nodes.items()
                },
            }
        with open(os.path.join(OUT, f"{name}.json"), "w") as fh:
            json.dump(side, fh, indent=1)
        report.append(f"{name:18s} type_check_on_read={tc}  strict_read: {strict}")

    with open(os.path.join(HERE, "LAYOUT.txt"), "w") as fh:
        fh.write("h5py walk of files written by nir.write (nir %s, h5py %s, HDF5 %s)\n\n"
                 % (nir.version, h5py.__version__, h5py.version.hdf5_version))
        fh.write(layout(os.path.join(OUT, "lif.nir")))
        fh.write("\n")
        fh.write(layout(os.path.join(OUT, "nested_graph.nir")))
        fh.write("\n")
        fh.write(layout(os.path.join(OUT, "conv2d_strided.nir")))
        fh.write("\n")
        fh.write(layout(os.path.join(OUT, "flatten.nir")))
    print("\n".join(report))


if __name__ == "__main__":
    sys.exit(main())
