"""An ezkl job from Python: submitted with ``proof_system="ezkl"`` to a
gateway with an ezkl backend, its receipt verified through ezkl's
verifier (the graph and key rebuilt from the question), and refused when
tampered with or checked against another question.

Needs a Python with ezkl (``ZKGATE_EZKL_PYTHON``; ``scripts/test.sh`` makes
one): skipped without it, failed under ``ZKGATE_REQUIRE_EZKL=1``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import zkgate

from conftest import ROOT, free_port, serve, stop, zkgate_binary

ROWS = 4
COLUMNS = [f"f{i}" for i in range(13)]


@pytest.fixture(scope="module")
def ezkl_gw(tmp_path_factory: pytest.TempPathFactory):
    python = os.environ.get("ZKGATE_EZKL_PYTHON")
    if not python:
        if os.environ.get("ZKGATE_REQUIRE_EZKL") == "1":
            pytest.fail("ZKGATE_REQUIRE_EZKL=1 but ZKGATE_EZKL_PYTHON names no Python with ezkl")
        pytest.skip("set ZKGATE_EZKL_PYTHON to a Python with ezkl installed")
    zk = zkgate_binary()
    work = tmp_path_factory.mktemp("ezkl")
    data = work / "data"
    port = free_port()

    def run(*args: str) -> str:
        return subprocess.run([str(zk), *args], check=True, capture_output=True, text=True).stdout

    run("init", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}")
    # Four rows: the shipped profiles would rightly refuse so few.
    (data / "policy.cedar").write_text('@id("everything")\npermit (principal, action, resource);\n')
    with open(data / "config.toml", "a") as f:
        f.write(f'\n[backends.ezkl]\npython = {json.dumps(python)}\nsrs_dir = "srs"\n')
    srs = data / "srs"
    run("ezkl", "srs", "--logrows", "15", "--ezkl-python", python, "--ezkl-srs-dir", str(srs))
    lines = (ROOT / "fixtures/data/tabular.csv").read_text().splitlines()
    csv = work / "tab.csv"
    csv.write_text("\n".join(lines[: ROWS + 1]) + "\n")
    run(
        "dataset", "import", str(csv), "--schema", str(ROOT / "fixtures/data/tabular.schema.json"),
        "--name", "tab", "--data-dir", str(data),
    )
    token = run("researcher", "add", "alice", "--data-dir", str(data)).strip()
    url = f"https://127.0.0.1:{port}"
    server, log = serve(zk, data, work, url, timeout=60)
    yield zkgate.Gateway(url, token, ca_cert=str(data / "tls" / "cert.pem")), python, srs
    stop(server, log)


def test_an_ezkl_job_verifies_through_ezkl_and_refuses_tampering(ezkl_gw):
    gw, python, srs = ezkl_gw
    model = ROOT / "fixtures/models/linreg.onnx"
    job = gw.submit(
        str(model), dataset="tab", aggregate="sum", columns=COLUMNS, proof_system="ezkl"
    )
    assert json.loads(job.question.text)["proof_system"] == "ezkl"
    receipt = job.wait(timeout=900, progress=False)
    assert receipt.proof_system == "ezkl"
    verdict = receipt.verify(job.question, model=job.model, ezkl_python=python, ezkl_srs_dir=srs)
    assert verdict.rows == ROWS
    assert len(verdict.result["sum"]) == 1
    assert any(c.startswith("proof: ezkl") for c in verdict.checked)
    assert any(u.startswith("the SRS") for u in verdict.unchecked)

    # The question and the model are required: the circuit is rebuilt
    # from them, never taken from the receipt.
    with pytest.raises(zkgate.InvalidReceipt, match="question"):
        receipt.verify(ezkl_python=python, ezkl_srs_dir=srs)

    # A changed value.
    data = json.loads(receipt.text)
    data["values"][0] = str(int(data["values"][0]) + 1)
    tampered = zkgate.Receipt(json.dumps(data), receipt.vk)
    with pytest.raises(zkgate.InvalidReceipt):
        tampered.verify(job.question, model=job.model, ezkl_python=python, ezkl_srs_dir=srs)

    # Another question (another nonce): the receipt does not answer it.
    other = json.loads(job.question.text)
    other["nonce"] = "ab" * 32
    with pytest.raises(zkgate.InvalidReceipt, match="nonce"):
        receipt.verify(
            zkgate.Question(json.dumps(other)),
            model=job.model,
            ezkl_python=python,
            ezkl_srs_dir=srs,
        )
