"""zkgate's driver for ezkl (halo2, KZG): builds a job's whole graph and runs
ezkl's pipeline on it. The gateway and `zkgate verify` run it as a
subprocess of the Python the owner configured (`[backends.ezkl] python`):

    python zkgate_ezkl.py COMMAND REQUEST.json

and read one JSON object from its last line of standard output. Commands:

- `hash`: ezkl's Poseidon hash of field elements (the dataset's published
  ezkl hash, the job binding's).
- `srs`: a local KZG SRS of 2^logrows points (insecure: this process drew
  its secret; for tests and trials only).
- `prove`: builds the job graph from the spec, writes ezkl's settings at
  the spec's scales, calibrates them on points drawn from the declared
  schema's bounds (never the rows), compiles, sets up, makes the witness
  from the rows and proves.
- `verify`: rebuilds the job graph from the spec (which the verifier
  derives from the researcher's question, never from the receipt), checks
  that the receipt's settings keep every pinned run argument, compiles and
  sets up the circuit itself (halo2's keys are a function of the circuit
  and the SRS), then verifies the proof with that key and compares the
  proof's public instances with the expected dataset hash, binding hash
  and values.

The job graph's inputs are two tensors, both `hashed` (ezkl hashes each
input tensor with its Poseidon and makes the hash a public instance):

- `data`: the dataset's stored integers, row by row, every column, then
  the salt's elements (small random integers: ezkl range-checks inputs),
  so the hash hides the rows. The graph drops the salt, reshapes to
  `[rows, columns]`, keeps the columns the job reads and multiplies each
  by `2^(S - scale)` so that ezkl, reading inputs at scale `S`, sees each
  value at its declared scale.
- `binding`: the job nonce in 16-bit limbs. The graph does not read it;
  its hash is a public instance, so a proof answers one job.

The graph's one output is the aggregate over all rows: the sums of the
model's outputs (`sum`, `mean`), class counts, correct predictions
(`accuracy`), the confusion matrix, rows at or above a threshold, or the
sum of squared / absolute errors against the label.
"""

import json
import os
import random
import resource
import sys
import time

# Run arguments every zkgate ezkl circuit keeps; the verifier refuses
# settings that change any of them (the prover chooses only logrows,
# the lookup range and the layout's columns).
PINNED = {
    "input_visibility": {"Hashed": {"hash_is_public": True, "outlets": []}},
    "output_visibility": "Public",
    "param_visibility": "Fixed",
    "ignore_range_check_inputs_outputs": False,
    "disable_freivalds": False,
    "decomp_base": 16384,
    "decomp_legs": 2,
    "rebase_frac_zero_constants": False,
    "scale_rebase_multiplier": 1,
    "bounded_log_lookup": False,
    "variables": [["batch_size", 1]],
}
# What ezkl derives from the graph and the scales: the meaning of the
# instances. The verifier takes these from settings it writes itself for
# the question's graph, and refuses a receipt whose settings say otherwise.
DERIVED = ("model_output_scales", "model_input_scales", "model_instance_shapes",
           "input_types", "output_types")
FREE = {"logrows", "lookup_range", "num_inner_cols", "input_scale", "param_scale",
        "rebase_scale", "check_mode", "epsilon"}


def fail(msg, detail=None):
    """Ends with an error. `detail`, if any, may carry values read from
    the rows: it goes to the data owner only, `msg` to whoever asked."""
    out = {"error": msg}
    if detail is not None:
        out["detail"] = detail
    print(json.dumps(out))
    sys.exit(2)


def limit_memory():
    mb = int(os.environ.get("ZKGATE_EZKL_MEMORY_MB", "0"))
    if mb > 0:
        b = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (b, b))


def felt(i):
    """A signed integer as ezkl's field element string (little-endian hex)."""
    p = 21888242871839275222246405745257275088548364400416034343698204186575808495617
    return (int(i) % p).to_bytes(32, "little").hex()


def felt_int(f):
    p = 21888242871839275222246405745257275088548364400416034343698204186575808495617
    v = int.from_bytes(bytes.fromhex(f), "little")
    return v - p if v > p // 2 else v


def build_graph(spec, model_path, out_path):
    import numpy as np
    import onnx
    from onnx import helper as h, numpy_helper as nh, TensorProto as T

    n, c = spec["rows"], spec["columns"]
    used = spec["used"]  # dataset column indices the graph reads
    mult = spec["multipliers"]  # one per used column: 2^(S - scale)
    feat = spec["features"]  # positions in `used` of the model's inputs, in order
    label = spec.get("label")  # position in `used` of the label, or None
    agg = spec["aggregate"]
    k = spec["outputs"]

    m = onnx.load(model_path)
    if len(m.graph.input) - len(m.graph.initializer) > 1 and len(m.graph.input) > 1:
        names = {t.name for t in m.graph.initializer}
        ins = [i.name for i in m.graph.input if i.name not in names]
        if len(ins) != 1:
            fail("the model has %d inputs; a job model has one" % len(ins))
    src_in = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}][0]
    src_out = m.graph.output[0].name
    graph_nodes = list(m.graph.node)
    if agg["kind"] in ("class_counts", "accuracy", "confusion") and graph_nodes \
            and graph_nodes[-1].op_type == "Softmax" and graph_nodes[-1].output[0] == src_out:
        # The predicted class is the argmax of the logits: a final softmax
        # changes no class and would cost an exponential's lookup table
        # over the logits' whole declared range.
        src_out = graph_nodes[-1].input[0]
        graph_nodes = graph_nodes[:-1]
    rename = {src_in: "features", src_out: "pred"}

    def ren(s):
        if not s:
            return s
        return rename.get(s, "model/" + s)

    nodes, inits = [], []
    for t in m.graph.initializer:
        t2 = onnx.TensorProto()
        t2.CopyFrom(t)
        t2.name = ren(t.name)
        inits.append(t2)
    model_nodes = []
    for nd in graph_nodes:
        n2 = onnx.NodeProto()
        n2.CopyFrom(nd)
        del n2.input[:]
        n2.input.extend([ren(s) for s in nd.input])
        del n2.output[:]
        n2.output.extend([ren(s) for s in nd.output])
        n2.name = "model/" + (nd.name or nd.op_type)
        model_nodes.append(n2)

    def const(name, arr):
        inits.append(nh.from_array(arr, name))
        return name

    i64 = lambda v: np.asarray(v, dtype=np.int64)
    f32 = lambda v: np.asarray(v, dtype=np.float32)
    nodes += [
        h.make_node("Slice", ["data", const("c/start", i64([0])), const("c/end", i64([n * c]))], ["rows_flat"]),
        h.make_node("Reshape", ["rows_flat", const("c/shape", i64([n, c]))], ["table"]),
        h.make_node("Gather", ["table", const("c/used", i64(used))], ["used"], axis=1),
        h.make_node("Mul", ["used", const("c/mult", f32(mult))], ["values"]),
        h.make_node("Gather", ["values", const("c/features", i64(feat))], ["features"], axis=1),
    ]
    nodes += model_nodes
    axes0 = const("c/axis0", i64([0]))
    kind = agg["kind"]
    if label is not None:
        nodes.append(h.make_node("Gather", ["values", const("c/label", i64([label]))], ["label"], axis=1))
    if kind in ("sum", "mean"):
        nodes.append(h.make_node("ReduceSum", ["pred", axes0], ["total"], keepdims=0))
    elif kind in ("class_counts", "accuracy", "confusion"):
        nodes.append(h.make_node("ArgMax", ["pred"], ["cls_i"], axis=1, keepdims=1))
        nodes.append(h.make_node("Cast", ["cls_i"], ["cls"], to=T.FLOAT))
        if kind == "class_counts":
            nodes.append(h.make_node("Equal", ["cls", const("c/classes", f32([list(range(k))]))], ["hit_b"]))
        elif kind == "accuracy":
            nodes.append(h.make_node("Equal", ["cls", "label"], ["hit_b"]))
        else:
            nodes.append(h.make_node("Mul", ["label", const("c/k", f32([float(k)]))], ["label_k"]))
            nodes.append(h.make_node("Add", ["label_k", "cls"], ["cell"]))
            nodes.append(h.make_node("Equal", ["cell", const("c/cells", f32([list(range(k * k))]))], ["hit_b"]))
        nodes.append(h.make_node("Cast", ["hit_b"], ["hit"], to=T.FLOAT))
        nodes.append(h.make_node("ReduceSum", ["hit", axes0], ["total"], keepdims=0))
    elif kind == "count_at_least":
        nodes.append(h.make_node("GreaterOrEqual", ["pred", const("c/threshold", f32([agg["threshold"]]))], ["hit_b"]))
        nodes.append(h.make_node("Cast", ["hit_b"], ["hit"], to=T.FLOAT))
        nodes.append(h.make_node("ReduceSum", ["hit", axes0], ["total"], keepdims=0))
    elif kind in ("mse", "mae"):
        nodes.append(h.make_node("Sub", ["pred", "label"], ["err"]))
        if kind == "mse":
            nodes.append(h.make_node("Mul", ["err", "err"], ["loss"]))
        else:
            nodes.append(h.make_node("Abs", ["err"], ["loss"]))
        nodes.append(h.make_node("ReduceSum", ["loss", axes0], ["total"], keepdims=0))
    else:
        fail("the ezkl backend has no graph for the aggregate `%s`" % kind)
    width = spec["values"]
    graph = h.make_graph(
        nodes, "zkgate_job",
        [h.make_tensor_value_info("data", T.FLOAT, [n * c + spec["salt_len"]]),
         h.make_tensor_value_info("binding", T.FLOAT, [spec["binding_len"]])],
        [h.make_tensor_value_info("total", T.FLOAT, [width])],
        inits,
    )
    opset = max([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] + [13])
    out = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="zkgate")
    out.ir_version = min(m.ir_version or 8, 8) if m.ir_version else 8
    onnx.checker.check_model(out)
    onnx.save(out, out_path)


def run_args(spec):
    import ezkl
    ra = ezkl.PyRunArgs()
    ra.input_visibility = "hashed"
    ra.output_visibility = "public"
    ra.param_visibility = "fixed"
    ra.input_scale = spec["input_scale"]
    ra.param_scale = spec["param_scale"]
    ra.decomp_base = PINNED["decomp_base"]
    ra.decomp_legs = PINNED["decomp_legs"]
    return ra


def calibration_data(spec):
    """Rows drawn from the declared bounds (never the job's rows): the
    all-minimum and all-maximum rows, then corners and interior points
    from a fixed seed."""
    n, c = spec["rows"], spec["columns"]
    lo, hi = spec["bounds_lo"], spec["bounds_hi"]
    rng = random.Random(0x7A6B)
    rows = []
    for r in range(n):
        row = []
        for j in range(c):
            if r == 0:
                v = lo[j]
            elif r == 1:
                v = hi[j]
            else:
                u = rng.random()
                v = lo[j] if u < 0.35 else hi[j] if u < 0.7 else rng.randint(lo[j], hi[j])
            row.append(v)
        rows += row
    return rows


def instances_mismatch(proof, dataset_hash, binding, values):
    """Why the proof's public instances are not [the dataset's hash, the
    binding's hash, the values] (None: they are)."""
    import ezkl
    inst = (proof.get("instances") or [[]])[0]
    want = [dataset_hash, ezkl.poseidon_hash([felt(v) for v in binding])[0]] + [felt(v) for v in values]
    if len(inst) != len(want):
        return "the proof has %d public instances, the question %d" % (len(inst), len(want))
    names = ["dataset (its ezkl hash)", "job (its binding)"] + ["value %d" % i for i in range(len(want) - 2)]
    for name, got, exp in zip(names, inst, want):
        if got != exp:
            return "the proof is for another %s" % name
    return None


def call(f, *a, **kw):
    import asyncio
    import inspect
    r = f(*a, **kw)
    if inspect.isawaitable(r):
        r = asyncio.run(r)
    return r


def cmd_hash(req):
    import ezkl
    return {"hash": ezkl.poseidon_hash([felt(v) for v in req["values"]])[0]}


def srs_file(srs_dir, logrows):
    """ezkl's naming: one SRS file per circuit size."""
    return os.path.join(srs_dir, "kzg%d.srs" % logrows)


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_srs(req):
    import ezkl
    os.makedirs(req["srs_dir"], exist_ok=True)
    path = srs_file(req["srs_dir"], int(req["logrows"]))
    call(ezkl.gen_srs, path, int(req["logrows"]))
    # Marked, so that a receipt proved over it says so.
    with open(path + ".insecure", "w") as fh:
        fh.write("made locally by `zkgate ezkl srs`: whoever ran it knows its secret and can forge proofs\n")
    return {"path": path, "logrows": int(req["logrows"]), "srs_sha256": sha256_file(path)}


def input_json(path, data, binding):
    with open(path, "w") as fh:
        json.dump({"input_data": [[felt(v) for v in data], [felt(v) for v in binding]]}, fh)


def timed(t):
    """A step runner that records each step's seconds in `t`."""
    def step(name, f, *a, **kw):
        t0 = time.perf_counter()
        r = call(f, *a, **kw)
        t[name] = time.perf_counter() - t0
        return r
    return step


def canonical(settings):
    """ezkl's settings with the lists it fills from hash sets sorted: their
    order sets the circuit's column layout, so unsorted, two calibrations
    of one graph can make different keys (and verifier contracts)."""
    for key in ("required_range_checks", "required_lookups"):
        if isinstance(settings.get(key), list):
            settings[key] = sorted(settings[key], key=lambda x: json.dumps(x, sort_keys=True))
    return settings


def job_settings(req, t):
    """The job graph and ezkl's settings for it, calibrated on rows drawn
    from the declared schema (never the dataset's), and the SRS file of
    the circuit's size: the same for the prover and for a researcher
    deriving the verifier contract."""
    import ezkl
    spec, work = req["spec"], req["work"]
    p = lambda f: os.path.join(work, f)
    step = timed(t)
    t0 = time.perf_counter()
    build_graph(spec, req["model"], p("job.onnx"))
    t["graph_s"] = time.perf_counter() - t0
    step("settings_s", ezkl.gen_settings, p("job.onnx"), p("settings.json"), py_run_args=run_args(spec))
    salt0 = [0] * spec["salt_len"]
    input_json(p("calibration.json"), calibration_data(spec) + salt0, [0] * spec["binding_len"])
    step("calibrate_s", ezkl.calibrate_settings, p("calibration.json"), p("job.onnx"), p("settings.json"),
         "resources", scales=[spec["input_scale"]], max_logrows=spec.get("max_logrows", 24))
    settings = canonical(json.load(open(p("settings.json"))))
    with open(p("settings.json"), "w") as fh:
        json.dump(settings, fh)
    ra = settings["run_args"]
    if ra["input_scale"] != spec["input_scale"] or ra["param_scale"] != spec["param_scale"]:
        fail("calibration moved the scales to %s/%s" % (ra["input_scale"], ra["param_scale"]))
    limit = req.get("max_logrows")
    if limit is not None and ra["logrows"] > int(limit):
        fail("the job's ezkl circuit needs 2^%d rows; this gateway proves ezkl circuits of up to 2^%d rows "
             "([backends.ezkl] max_logrows: ezkl's memory doubles with each power, about 8 GB at 2^18 and "
             "22 GB at 2^19): ask with groth16, or over fewer rows" % (ra["logrows"], int(limit)))
    if req.get("size_only"):
        return settings, None
    srs = srs_file(req["srs_dir"], ra["logrows"])
    if not os.path.exists(srs) and req.get("make_srs"):
        # Benchmarks only: a local (insecure) SRS of the size needed.
        t0 = time.perf_counter()
        os.makedirs(req["srs_dir"], exist_ok=True)
        call(ezkl.gen_srs, srs, ra["logrows"])
        t["srs_s"] = time.perf_counter() - t0
    if not os.path.exists(srs):
        fail("the job's ezkl circuit has 2^%d rows and the SRS directory has no %s (make a local one with "
             "`zkgate ezkl srs --logrows %d`, or convert a public one)" % (ra["logrows"], srs, ra["logrows"]))
    return settings, srs


def render_verifier(work, srs):
    """The Solidity verifier ezkl renders for the key in `work`. ezkl writes
    the source, then asks svm for a solc to read its ABI back, which would
    download one: the driver blocks that download (a closed local proxy)
    and keeps the source, which the gateway compiles with its pinned
    solc-js."""
    import asyncio
    import ezkl
    p = lambda f: os.path.join(work, f)
    sol = p("Verifier.sol")
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ[k] = "http://127.0.0.1:9"
    os.environ.pop("NO_PROXY", None)
    os.environ.pop("no_proxy", None)

    async def go():
        return await ezkl.create_evm_verifier(p("vk.key"), p("settings.json"), sol, p("Verifier.abi"),
                                              srs_path=srs)
    try:
        asyncio.run(go())
    except Exception:  # noqa: BLE001 - the ABI step fails by design
        pass
    if not os.path.exists(sol):
        fail("ezkl rendered no verifier contract")
    return open(sol).read()


def cmd_size(req):
    """The job graph's circuit size as calibration sets it (no key made)."""
    t = {}
    settings, _ = job_settings(dict(req, size_only=True), t)
    return {"logrows": settings["run_args"]["logrows"], "num_rows": settings.get("num_rows"),
            "total_assignments": settings.get("total_assignments"), "timings": t,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def cmd_verifier(req):
    """The verifier contract for the job graph: what a researcher derives
    from the question before opening an ezkl job on chain."""
    import ezkl
    work = req["work"]
    p = lambda f: os.path.join(work, f)
    t = {}
    settings, srs = job_settings(req, t)
    step = timed(t)
    step("compile_s", ezkl.compile_circuit, p("job.onnx"), p("job.ezkl"), p("settings.json"))
    step("setup_s", ezkl.setup, p("job.ezkl"), p("vk.key"), p("pk.key"), srs_path=srs)
    t0 = time.perf_counter()
    source = render_verifier(work, srs)
    t["render_s"] = time.perf_counter() - t0
    return {"solidity": source, "logrows": settings["run_args"]["logrows"], "srs_sha256": sha256_file(srs),
            "timings": t}


def cmd_prove(req):
    import ezkl
    work = req["work"]
    p = lambda f: os.path.join(work, f)
    t = {}
    step = timed(t)
    settings, srs = job_settings(req, t)
    ra = settings["run_args"]
    step("compile_s", ezkl.compile_circuit, p("job.onnx"), p("job.ezkl"), p("settings.json"))
    step("setup_s", ezkl.setup, p("job.ezkl"), p("vk.key"), p("pk.key"), srs_path=srs)
    input_json(p("input.json"), req["data"], req["binding"])
    try:
        step("witness_s", ezkl.gen_witness, p("input.json"), p("job.ezkl"), p("witness.json"),
             vk_path=p("vk.key"), srs_path=srs)
        step("prove_s", ezkl.prove, p("witness.json"), p("job.ezkl"), p("pk.key"), p("proof.json"),
             srs_path=srs)
    except BaseException as e:  # noqa: BLE001 - ezkl panics surface as PanicException
        # ezkl's message may quote a value computed from a row.
        fail("ezkl could not prove the job over the dataset's rows (a value outside the ranges its "
             "settings were calibrated for from the declared schema, or a limit of ezkl's); the data "
             "owner's audit log has ezkl's message",
             "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    proof = json.load(open(p("proof.json")))
    witness = json.load(open(p("witness.json")))
    outputs = [felt_int(f) for f in witness["outputs"][0]]
    # Checked with the key just made (the graph is the one this call built
    # from the spec), against the published dataset hash and the binding.
    t0 = time.perf_counter()
    ok = call(ezkl.verify, p("proof.json"), p("settings.json"), p("vk.key"), srs_path=srs)
    t["verify_s"] = time.perf_counter() - t0
    why = None if ok else "ezkl refuses its own proof"
    why = why or instances_mismatch(proof, req["dataset_hash"], req["binding"], outputs)
    if why:
        fail(why)
    out = {
        "proof": proof,
        "settings": settings,
        "outputs": outputs,
        "output_scale": settings["model_output_scales"][0],
        "logrows": ra["logrows"],
        "srs_sha256": sha256_file(srs),
        "srs_insecure": os.path.exists(srs + ".insecure"),
        "timings": t,
        "pk_bytes": os.path.getsize(p("pk.key")),
        "vk_bytes": os.path.getsize(p("vk.key")),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if req.get("evm"):
        t0 = time.perf_counter()
        out["solidity"] = render_verifier(work, srs)
        t["render_s"] = time.perf_counter() - t0
    return out


def cmd_verify(req):
    import ezkl
    spec, work = req["spec"], req["work"]
    p = lambda f: os.path.join(work, f)
    settings = req["settings"]
    ra = settings.get("run_args", {})
    for key, want in PINNED.items():
        if ra.get(key) != want:
            return {"valid": False, "why": "the receipt's ezkl settings change `%s`" % key}
    for key in ra:
        if key not in PINNED and key not in FREE:
            return {"valid": False, "why": "the receipt's ezkl settings carry an unknown `%s`" % key}
    if ra.get("input_scale") != spec["input_scale"] or ra.get("param_scale") != spec["param_scale"]:
        return {"valid": False, "why": "the receipt's ezkl settings are at other scales than the question's"}
    srs = srs_file(req["srs_dir"], int(ra.get("logrows", 0)))
    if not os.path.exists(srs):
        return {"valid": False, "why": "no SRS of 2^%s points here (%s)" % (ra.get("logrows"), srs)}
    build_graph(spec, req["model"], p("job.onnx"))
    call(ezkl.gen_settings, p("job.onnx"), p("derived.json"), py_run_args=run_args(spec))
    derived = json.load(open(p("derived.json")))
    for key in DERIVED:
        if settings.get(key) != derived.get(key):
            return {"valid": False, "why": "the receipt's ezkl settings change `%s` from the question's graph's" % key}
    with open(p("settings.json"), "w") as fh:
        json.dump(settings, fh)
    try:
        call(ezkl.compile_circuit, p("job.onnx"), p("job.ezkl"), p("settings.json"))
        call(ezkl.setup, p("job.ezkl"), p("vk.key"), p("pk.key"), srs_path=srs)
    except Exception as e:  # noqa: BLE001 - any failure is a refusal
        return {"valid": False, "why": "the question's graph does not compile under the receipt's settings: %s" % e}
    proof = req["proof"]
    with open(p("proof.json"), "w") as fh:
        json.dump(proof, fh)
    try:
        ok = call(ezkl.verify, p("proof.json"), p("settings.json"), p("vk.key"), srs_path=srs)
    except Exception as e:  # noqa: BLE001
        return {"valid": False, "why": "ezkl refuses the proof: %s" % str(e).splitlines()[0]}
    if not ok:
        return {"valid": False, "why": "ezkl refuses the proof"}
    why = instances_mismatch(proof, req["dataset_hash"], req["binding"], req["values"])
    if why:
        return {"valid": False, "why": why}
    return {"valid": True, "output_scale": derived["model_output_scales"][0], "srs_sha256": sha256_file(srs)}


def main():
    if len(sys.argv) != 3:
        fail("usage: zkgate_ezkl.py hash|srs|prove|verify|verifier|size REQUEST.json")
    limit_memory()
    req = json.load(open(sys.argv[2]))
    cmds = {"hash": cmd_hash, "srs": cmd_srs, "prove": cmd_prove, "verify": cmd_verify,
            "verifier": cmd_verifier, "size": cmd_size}
    if sys.argv[1] not in cmds:
        fail("unknown command `%s`" % sys.argv[1])
    try:
        import ezkl  # noqa: F401
    except ImportError as e:
        fail("ezkl is not installed in this Python (%s)" % e)
    try:
        out = cmds[sys.argv[1]](req)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - ezkl panics surface as PanicException
        fail("%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
