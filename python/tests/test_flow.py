"""The researcher's flow from Python against a real gateway: scikit-learn
models end to end, a policy denial, an unsupported op, tampered
receipts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import zkgate

ROOT = Path(__file__).resolve().parents[2]
LABEL = "label"
COLUMNS = (ROOT / "fixtures/data/breast_cancer.csv").open().readline().strip().split(",")[:-1]


def features(mock):
    return mock.drop(columns=[LABEL])


def test_datasets_and_mock(gw, mock):
    (d,) = gw.datasets()
    assert d.name == "breast_cancer"
    assert d.rows == 120
    assert len(d.columns) == 31 and d.columns[-1] == LABEL
    assert int(d.commitment, 16) > 0
    # The mock twin has the schema's columns, and never the real rows.
    assert list(mock.columns) == d.columns
    real = (ROOT / "fixtures/data/breast_cancer.csv").read_text().splitlines()[1:121]
    first = [float(v) for v in real[0].split(",")]
    assert not np.allclose(mock.iloc[0].to_numpy(dtype=float), first)


def test_logistic_regression_accuracy_end_to_end(gw, mock):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(features(mock), mock[LABEL])
    job = gw.submit(clf, dataset="breast_cancer", aggregate="accuracy", label=LABEL)
    # The conversion was checked on the mock rows before anything was sent.
    assert job.conversion is not None and job.conversion.classifier
    assert job.conversion.rows == 120 and job.conversion.agreement == 1.0
    assert job.question.columns == list(features(mock).columns)
    receipt = job.wait(timeout=600, progress=False)
    verdict = receipt.verify(job.question, model=job.model)
    assert 0.0 <= verdict.result["accuracy"] <= 1.0
    assert verdict.rows == 120
    assert any(c.startswith("question") for c in verdict.checked)
    assert any(c.startswith("model") for c in verdict.checked)
    assert verdict.unchecked == [
        "key origin not checked: the `setup` line is the prover's word"
    ]
    # Without the question, the verdict says what it took on trust.
    loose = zkgate.verify(receipt.text, receipt.vk)
    assert any(u.startswith("no question") for u in loose.unchecked)


def test_pipeline_confusion_matrix(gw):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Trained elsewhere: on the fixture's rows the gateway does not hold.
    held_out = pd.read_csv(ROOT / "fixtures/data/breast_cancer.csv").iloc[120:]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    pipe.fit(held_out.drop(columns=[LABEL]), held_out[LABEL])
    job = gw.submit(pipe, dataset="breast_cancer", aggregate="confusion", label=LABEL)
    receipt = job.wait(timeout=600, progress=False)
    receipt.verify(job.question, model=job.model)
    m = receipt.confusion()
    assert m.shape == (2, 2)
    assert list(m.index) == ["label 0", "label 1"]
    assert list(m.columns) == ["predicted 0", "predicted 1"]
    # The float model's matrix on these rows is [[57, 14], [0, 49]]; the
    # quantized one may move a row across the boundary.
    assert m.to_numpy().sum() == 120
    assert m.iloc[1, 0] == 0 and abs(m.iloc[0, 0] - 57) <= 2


def test_dry_run_spends_nothing(gw, mock):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(features(mock), mock[LABEL])
    before = len(gw.jobs())
    d = gw.dry_run(clf, dataset="breast_cancer", aggregate="class_counts")
    assert d.would_run, d
    assert d.constraints > 0 and d.shards == 1
    assert len(gw.jobs()) == before


def test_policy_denial_names_its_rule(gw, mock):
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(features(mock), mock[LABEL])
    with pytest.raises(zkgate.PolicyDenied) as e:
        gw.submit(reg, dataset="breast_cancer", aggregate="sum")
    assert e.value.status == 403 and e.value.code == "policy_denied"
    assert "noise-on-values" in e.value.rules
    # The dry run says so without a job.
    d = gw.dry_run(reg, dataset="breast_cancer", aggregate="sum")
    assert d.decision == "deny" and "noise-on-values" in d.rules


def test_unsupported_op_names_op_and_node(gw):
    with pytest.raises(zkgate.ModelRefused) as e:
        gw.submit(
            ROOT / "fixtures/bad/unsupported_op.onnx",
            dataset="breast_cancer",
            aggregate="class_counts",
        )
    assert e.value.op and e.value.node, e.value
    assert e.value.op in str(e.value)


def test_columns_that_do_not_fit_the_model(gw):
    with pytest.raises(zkgate.BadRequest, match="takes 30 inputs but 31 columns"):
        gw.submit(
            ROOT / "fixtures/models/breast_cancer.onnx",
            dataset="breast_cancer",
            aggregate="class_counts",
        )


def test_missing_label_is_a_clear_error(gw):
    with pytest.raises(zkgate.BadRequest, match="needs a label column"):
        gw.submit(
            ROOT / "fixtures/models/breast_cancer.onnx",
            dataset="breast_cancer",
            aggregate="accuracy",
        )


def test_wrong_token(gateway):
    bad = zkgate.Gateway(gateway.url, "not-a-token", ca_cert=str(gateway.ca))
    with pytest.raises(zkgate.Unauthorized) as e:
        bad.datasets()
    assert e.value.status == 401


def test_untrusted_certificate(gateway):
    gw = zkgate.Gateway(gateway.url, gateway.token)
    with pytest.raises(zkgate.ConnectionFailed):
        gw.datasets()


@pytest.fixture(scope="module")
def done(gw):
    """A finished job of the fixture model, its question and its model."""
    model = (ROOT / "fixtures/models/breast_cancer.onnx").read_bytes()
    job = gw.submit(model, dataset="breast_cancer", aggregate="accuracy", label=LABEL)
    return job, job.wait(timeout=600, progress=False), model


def test_tampered_result_fails(done):
    job, receipt, model = done
    r = json.loads(receipt.text)
    r["values"][0] = str(int(r["values"][0]) + 1)
    r["result"]["accuracy"] = float(r["values"][0]) / 120
    with pytest.raises(zkgate.InvalidReceipt):
        zkgate.verify(json.dumps(r), receipt.vk, question=job.question, model=model)


def test_tampered_commitment_fails(done):
    job, receipt, _ = done
    r = json.loads(receipt.text)
    c = int(r["commitment"], 16)
    r["commitment"] = hex(c ^ 1)
    with pytest.raises(zkgate.InvalidReceipt):
        zkgate.verify(json.dumps(r), receipt.vk)


def test_another_question_fails(gw, done):
    job, receipt, model = done
    # The same request asked again has a fresh nonce: the receipt does not
    # answer it.
    d = gw.dry_run(model, dataset="breast_cancer", aggregate="accuracy", label=LABEL)
    with pytest.raises(zkgate.InvalidReceipt, match="nonce|question"):
        receipt.verify(d.question)
    receipt.verify(job.question)


def test_another_model_fails(done):
    job, receipt, _ = done
    other = (ROOT / "fixtures/models/linreg.onnx").read_bytes()
    with pytest.raises(zkgate.InvalidReceipt, match="model"):
        receipt.verify(job.question, model=other)


def test_wrong_keys_fail(gw, done):
    job, receipt, model = done
    # Another circuit (class counts of the same model), so other keys.
    other = gw.submit(
        model, dataset="breast_cancer", aggregate="class_counts", columns=COLUMNS
    ).wait(timeout=600, progress=False)
    with pytest.raises(zkgate.InvalidReceipt):
        zkgate.verify(receipt.text, other.vk)


def test_cancel(gw):
    model = (ROOT / "fixtures/models/breast_cancer.onnx").read_bytes()
    job = gw.submit(
        model, dataset="breast_cancer", aggregate="class_counts", columns=COLUMNS
    )
    try:
        job.cancel()
    except zkgate.Conflict:
        # It ended first: cancelling an ended job is refused.
        assert job.refresh().state == "done"
        return
    assert job.state == "cancelled", job.record
    with pytest.raises(zkgate.JobCancelled):
        job.wait(timeout=60, progress=False)
    assert job.state == "cancelled", job.record


def test_receipt_round_trip(tmp_path, done):
    job, receipt, model = done
    receipt.save(tmp_path / "r.json", tmp_path / "vk.bin")
    job.question.save(tmp_path / "q.json")
    back = zkgate.Receipt.load(tmp_path / "r.json", tmp_path / "vk.bin")
    q = zkgate.Question.load(tmp_path / "q.json")
    assert back.verify(q, model=model).result == receipt.result
    # The CLI verifies what the package saved.
    import subprocess

    from conftest import zkgate_binary

    out = subprocess.run(
        [str(zkgate_binary()), "verify", str(tmp_path / "r.json"), "--vk", str(tmp_path / "vk.bin"),
         "--question", str(tmp_path / "q.json"), "--model", str(ROOT / "fixtures/models/breast_cancer.onnx")],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_missing_extra_is_named(monkeypatch, mock):
    import builtins

    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=100).fit(features(mock), mock[LABEL])
    real = builtins.__import__

    def no_skl2onnx(name, *a, **k):
        if name.startswith("skl2onnx"):
            raise ImportError("No module named 'skl2onnx'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_skl2onnx)
    with pytest.raises(zkgate.MissingExtra, match=r"zkgate\[sklearn\]"):
        zkgate.to_onnx(clf, sample=features(mock).to_numpy()[:4])


def test_errors_map_codes():
    from zkgate.errors import from_detail

    e = from_detail({"status": 403, "code": "budget_exhausted", "message": "privacy budget exhausted"})
    assert isinstance(e, zkgate.BudgetExhausted) and isinstance(e, zkgate.PolicyDenied)
    e = from_detail({"status": 422, "code": "unsupported_op",
                     "message": "unsupported op `Foo` at node `n1`: not implemented"})
    assert (e.op, e.node) == ("Foo", "n1")


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_gradient_boosting_end_to_end(gw, library):
    import pandas as pd

    held_out = pd.read_csv(ROOT / "fixtures/data/breast_cancer.csv").iloc[120:]
    X, y = held_out.drop(columns=[LABEL]), held_out[LABEL]
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=8, max_depth=3, random_state=0, n_jobs=1)
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(
            n_estimators=8, max_depth=3, num_leaves=8, random_state=0, n_jobs=1, verbose=-1
        )
    model.fit(X, y)
    job = gw.submit(model, dataset="breast_cancer", aggregate="accuracy", label=LABEL)
    assert job.conversion.converter.startswith("onnxmltools")
    assert job.conversion.agreement == 1.0
    verdict = job.wait(timeout=600, progress=False).verify(job.question, model=job.model)
    assert verdict.result["accuracy"] > 0.8, verdict


def test_a_tie_within_float32_rounding_is_not_a_mismatch(monkeypatch):
    from zkgate import convert

    class Fitted:
        classes_ = [0, 1]

        def predict(self, x):
            return [1, 1, 0][: len(x)]

    # Row 0 agrees; row 1's scores tie within float32 rounding (either
    # class is the model's); row 2 disagrees outright.
    outputs = [[0.1, 0.9], [0.5, 0.5 - 1e-8], [0.2, 0.8]]
    monkeypatch.setattr(convert._native, "run_float", lambda onnx, rows: outputs[: len(rows)])
    rows = [[0.0], [0.0], [0.0]]
    c = convert._check(Fitted(), b"", rows[:2], "test", 0.0)
    assert (c.agreeing, c.ties, c.agreement) == (2, 1, 1.0)
    with pytest.raises(zkgate.ConversionMismatch, match="2 of 3"):
        convert._check(Fitted(), b"", rows, "test", 0.0)


def test_a_retrained_model_of_a_family_reuses_the_key(gw, mock):
    from sklearn.linear_model import LogisticRegression

    # Two fits of one architecture (other regularization, other weights),
    # asked as one model family: the gateway keeps one key for both, and
    # each receipt answers only its own model's question.
    first = LogisticRegression(max_iter=2000, C=1.0).fit(features(mock), mock[LABEL])
    second = LogisticRegression(max_iter=2000, C=0.1).fit(features(mock), mock[LABEL])
    jobs = [
        gw.submit(m, dataset="breast_cancer", aggregate="accuracy", label=LABEL, family="14:2:10")
        for m in (first, second)
    ]
    receipts = [j.wait(timeout=600, progress=False) for j in jobs]
    for job, receipt in zip(jobs, receipts):
        receipt.verify(job.question, model=job.model)
    assert receipts[0].vk == receipts[1].vk
    a, b = (json.loads(r.text)["circuit"] for r in receipts)
    assert a["weights"] != b["weights"] and a["plan_sha256"] == b["plan_sha256"]
    with pytest.raises(zkgate.InvalidReceipt):
        receipts[1].verify(jobs[0].question)
    # A malformed family is refused before anything is sent.
    with pytest.raises(Exception, match="TERM_LOG2"):
        gw.submit(first, dataset="breast_cancer", aggregate="accuracy", label=LABEL, family="1:2")
