"""Runs ezkl's whole pipeline on one of zkgate's bench cases and prints one
JSON object with the same figures as `zkgate bench`.

    python ezkl_peer.py --fixtures fixtures --case mlp:64 --work /tmp/ezkl

The case's ONNX model is re-declared with a batch dimension of ROWS, so one
ezkl proof covers all the rows, as one zkgate proof does. Settings mirror
zkgate's statement as closely as ezkl allows: weights fixed in the circuit
(`param_visibility=fixed`), the rows hidden but bound by a Poseidon hash
(`input_visibility=hashed`, ezkl's analogue of zkgate's dataset commitment),
and the per-row outputs public (ezkl has no aggregate: it publishes every
row's output, which is more public inputs than zkgate's aggregate). Steps:
gen_settings, calibrate_settings (on the same rows), compile_circuit,
gen_srs (local, no download), setup, gen_witness, prove, verify. Each step is
timed; peak RSS is this process's (run one case per process).
"""

import argparse
import asyncio
import csv
import inspect
import json
import os
import resource
import time

import numpy as np
import onnx
import onnxruntime as ort
import ezkl

# case name -> (data file, feature columns (None: all but `label`), flat input shape)
CASES = {
    "linreg": ("tabular.csv", ["f%d" % i for i in range(13)]),
    "mlp": ("tabular.csv", ["f%d" % i for i in range(13)]),
    "breast_cancer": ("breast_cancer.csv", None),
    "mnist_mlp": ("digits28.csv", None),
    "lenet_small": ("digits28.csv", None),
}


def call(f, *args, **kw):
    """ezkl's bindings are sync or async depending on the version."""
    r = f(*args, **kw)
    if inspect.isawaitable(r):
        r = asyncio.run(r)
    return r


def rows(path, columns, n):
    with open(path, newline="") as fh:
        rd = csv.reader(fh)
        header = next(rd)
        if columns is None:
            columns = [c for c in header if c != "label"]
        idx = [header.index(c) for c in columns]
        out = []
        for r in rd:
            out.append([float(r[i]) for i in idx])
            if len(out) == n:
                break
    if len(out) < n:
        raise SystemExit("%s has fewer than %d rows" % (path, n))
    return np.asarray(out, dtype=np.float32)


def batched(src, dst, n):
    """The model with its leading (batch) dimension set to n."""
    m = onnx.load(src)
    for v in list(m.graph.input) + list(m.graph.output):
        v.type.tensor_type.shape.dim[0].dim_value = n
    onnx.save(m, dst)
    return [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="fixtures")
    ap.add_argument("--case", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    name, n = a.case.split(":")
    n = int(n)
    data_file, columns = CASES[name]
    os.makedirs(a.work, exist_ok=True)
    p = lambda f: os.path.join(a.work, f)

    x = rows(os.path.join(a.fixtures, "data", data_file), columns, n)
    shape = batched(os.path.join(a.fixtures, "models", name + ".onnx"), p("model.onnx"), n)
    x = x.reshape(shape)
    with open(p("input.json"), "w") as fh:
        json.dump({"input_data": [x.reshape(-1).tolist()]}, fh)
    want = ort.InferenceSession(p("model.onnx")).run(None, {"x": x})[0].reshape(n, -1)

    t = {}

    def step(label, f, *args, **kw):
        t0 = time.perf_counter()
        r = call(f, *args, **kw)
        t[label] = time.perf_counter() - t0
        return r

    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "hashed"
    run_args.output_visibility = "public"
    run_args.param_visibility = "fixed"
    step("settings_s", ezkl.gen_settings, p("model.onnx"), p("settings.json"), py_run_args=run_args)
    step("calibrate_s", ezkl.calibrate_settings, p("input.json"), p("model.onnx"), p("settings.json"), "resources")
    step("compile_s", ezkl.compile_circuit, p("model.onnx"), p("model.ezkl"), p("settings.json"))
    settings = json.load(open(p("settings.json")))
    logrows = settings["run_args"]["logrows"]
    step("srs_s", ezkl.gen_srs, p("kzg.srs"), logrows)
    step("setup_s", ezkl.setup, p("model.ezkl"), p("vk.key"), p("pk.key"), srs_path=p("kzg.srs"))
    step("witness_s", ezkl.gen_witness, p("input.json"), p("model.ezkl"), p("witness.json"),
         vk_path=p("vk.key"), srs_path=p("kzg.srs"))
    step("prove_s", ezkl.prove, p("witness.json"), p("model.ezkl"), p("pk.key"), p("proof.json"),
         srs_path=p("kzg.srs"))
    t0 = time.perf_counter()
    valid = call(ezkl.verify, p("proof.json"), p("settings.json"), p("vk.key"), srs_path=p("kzg.srs"))
    verify_ms = (time.perf_counter() - t0) * 1e3

    witness = json.load(open(p("witness.json")))
    scale = settings["model_output_scales"][0]
    got = np.asarray([ezkl.felt_to_float(f, scale) for f in witness["outputs"][0]]).reshape(n, -1)
    err = np.abs(got - want)
    proof = json.load(open(p("proof.json")))
    proof_hex = proof.get("hex_proof") or ""
    proof_bytes = len(bytes.fromhex(proof_hex[2:] if proof_hex.startswith("0x") else proof_hex)) \
        if proof_hex else len(proof.get("proof", []))
    same_class = int((got.argmax(1) == want.argmax(1)).sum()) if want.shape[1] > 1 else None
    print(json.dumps({
        "peer": "ezkl",
        "ezkl": ezkl.__version__,
        "model": name,
        "rows": n,
        "logrows": logrows,
        "rows_in_circuit": 2 ** logrows,
        "settings": {k: settings["run_args"][k] for k in ("input_visibility", "output_visibility",
                                                         "param_visibility", "input_scale", "param_scale")},
        **t,
        "verify_ms": verify_ms,
        "valid": bool(valid),
        "pk_bytes": os.path.getsize(p("pk.key")),
        "vk_bytes": os.path.getsize(p("vk.key")),
        "proof_bytes": proof_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "agreement": {
            "rows": n,
            "max_abs_error": float(err.max()),
            "mean_abs_error": float(err.mean()),
            "same_class": same_class,
        },
    }, sort_keys=True))


if __name__ == "__main__":
    main()
