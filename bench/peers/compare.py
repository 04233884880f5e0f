"""Side by side: zkgate and ezkl on the same fixtures, one case after the
other in the same run, then a table of ratios (ours / ezkl).

    bash bench/peers/run.sh                    # the standard cases
    bash bench/peers/run.sh linreg:64 mlp:64   # chosen cases

Each side of each case runs in its own process (peak RSS is its own). Every
raw record is also printed as a JSON line, and the table is written to
stdout at the end.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STANDARD = ["linreg:64", "mlp:64", "mlp:256", "mlp:1024", "mnist_mlp:16", "lenet_small:4"]


def ours(case):
    out = subprocess.run(
        [os.path.join(ROOT, "target", "release", "zkgate"), "bench", "--fixtures",
         os.path.join(ROOT, "fixtures"), "--cases", case],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer(case, work):
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "ezkl_peer.py"), "--fixtures",
         os.path.join(ROOT, "fixtures"), "--case", case, "--work", work],
        capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout).strip()[-2000:]}
    return json.loads(lines[-1])


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def main():
    cases = sys.argv[1:] or STANDARD
    work = os.environ.get("PEER_WORK", os.path.join(HERE, ".work"))
    table = []
    for case in cases:
        z = ours(case)
        z["side"] = "zkgate"
        print(json.dumps(z, sort_keys=True), flush=True)
        e = peer(case, os.path.join(work, case.replace(":", "_")))
        e["side"] = "ezkl"
        print(json.dumps(e, sort_keys=True), flush=True)
        ez_setup = e.get("setup_s")
        row = {
            "case": case,
            "zkgate_prove_s": z.get("prove_s"),
            "ezkl_prove_s": e.get("prove_s"),
            "prove_ratio": ratio(z.get("prove_s"), e.get("prove_s")),
            "zkgate_setup_s": z.get("setup_s"),
            "ezkl_setup_s": ez_setup,
            "zkgate_setup_over_prove": ratio(z.get("setup_s"), z.get("prove_s")),
            "zkgate_rss_mb": z.get("peak_rss_mb"),
            "ezkl_rss_mb": e.get("peak_rss_mb"),
            "rss_ratio": ratio(z.get("peak_rss_mb"), e.get("peak_rss_mb")),
            "zkgate_proof_bytes": z.get("proof_bytes"),
            "ezkl_proof_bytes": e.get("proof_bytes"),
            "zkgate_max_abs_error": (z.get("agreement") or {}).get("max_abs_error"),
            "ezkl_max_abs_error": (e.get("agreement") or {}).get("max_abs_error"),
            "zkgate_same_class": (z.get("agreement") or {}).get("same_class"),
            "ezkl_same_class": (e.get("agreement") or {}).get("same_class"),
            "ezkl_error": e.get("error"),
        }
        table.append(row)
        print(json.dumps({"comparison": row}, sort_keys=True), flush=True)

    def f(v, fmt="%.2f"):
        return "-" if v is None else (fmt % v if isinstance(v, float) else str(v))
    cols = ["case", "prove s (ours/ezkl)", "ratio", "setup s (ours/ezkl)", "RSS MB (ours/ezkl)",
            "proof B (ours/ezkl)", "max |err| (ours/ezkl)"]
    print()
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in table:
        print(" | ".join([
            r["case"],
            "%s / %s" % (f(r["zkgate_prove_s"]), f(r["ezkl_prove_s"])),
            f(r["prove_ratio"], "%.4f"),
            "%s / %s" % (f(r["zkgate_setup_s"]), f(r["ezkl_setup_s"])),
            "%s / %s" % (f(r["zkgate_rss_mb"], "%.0f"), f(r["ezkl_rss_mb"], "%.0f")),
            "%s / %s" % (f(r["zkgate_proof_bytes"]), f(r["ezkl_proof_bytes"])),
            "%s / %s" % (f(r["zkgate_max_abs_error"], "%.4f"), f(r["ezkl_max_abs_error"], "%.4f")),
        ]))


if __name__ == "__main__":
    main()
