"""The researcher's side of a zkgate gateway: datasets, mock twins, jobs.

Every call goes through the workspace's Rust client (``zkgate-client``) in
``zkgate._native``; questions are compiled locally by the workspace's
compiler, exactly as ``zkgate submit`` compiles them.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _native
from .convert import Conversion, feature_columns, to_onnx
from .errors import (
    JobCancelled,
    JobFailed,
    ZkgateError,
    from_detail,
    from_native,
)
from .receipt import Question, Receipt

__all__ = ["Gateway", "Dataset", "DryRun", "Job"]

PathLike = Union[str, "os.PathLike[str]"]


def _call(f: Any, *args: Any) -> Any:
    try:
        return f(*args)
    except _native.NativeError as e:
        raise from_native(e) from None


@dataclass(frozen=True)
class Dataset:
    """A dataset as the gateway publishes it.

    Attributes:
        name: its name.
        rows: its rows.
        commitment: the hiding, binding commitment its proofs are over.
        schema: the declared schema (columns with kinds, ranges, scales).
        price: the price per job, in wei (0: free).
        shard_rows: rows per shard proof the gateway uses for it.
    """

    name: str
    rows: int
    commitment: str
    schema: Dict[str, Any]
    price: int
    shard_rows: Optional[int] = None

    @property
    def columns(self) -> List[str]:
        """Column names, in order."""
        return [c["name"] for c in self.schema["columns"]]


@dataclass(frozen=True)
class DryRun:
    """What the gateway would do with a job (nothing stored or proved).

    Attributes:
        decision: the policy at submission: ``allow``, ``hold`` or ``deny``.
        rules: the rules that decided.
        message: why, as the researcher would be told.
        compiled_decision: the policy once compiled, with the circuit's size.
        compiled_rules: its rules.
        constraints: constraints over every shard.
        shards: shards the job is proved in.
        circuit_id: the first shard's circuit id.
        estimated_s: estimated seconds of setup and proving.
        memory_mb: estimated peak memory of one shard, MiB.
        note: what a dry run cannot know (the release policy judges the
            values).
        question: the question the job would answer.
        conversion: how a fitted model's conversion was checked.
    """

    decision: str
    rules: List[str]
    message: str
    compiled_decision: str
    compiled_rules: List[str]
    constraints: int
    shards: int
    circuit_id: str
    estimated_s: float
    memory_mb: int
    note: str
    question: Optional[Question] = None
    conversion: Optional[Conversion] = None

    @property
    def would_run(self) -> bool:
        """Whether both decisions allow the job."""
        return self.decision == "allow" and self.compiled_decision == "allow"


class Gateway:
    """A zkgate gateway, as a researcher reaches it over HTTPS.

    Args:
        url: the gateway's URL (``https://host:port``).
        token: your bearer token (default: ``$ZKGATE_TOKEN``).
        ca_cert: the gateway's CA certificate: a PEM file's path or its
            bytes; without it, the platform's trusted roots.

    Example::

        gw = zkgate.Gateway("https://127.0.0.1:8443", token, ca_cert="cert.pem")
        mock = gw.mock("breast_cancer")
        clf = LogisticRegression().fit(mock.drop(columns="label"), mock["label"])
        job = gw.submit(clf, dataset="breast_cancer", aggregate="accuracy", label="label")
        receipt = job.wait()
        print(receipt.verify(job.question, job.model))
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        ca_cert: Union[PathLike, bytes, None] = None,
    ) -> None:
        token = token if token is not None else os.environ.get("ZKGATE_TOKEN")
        if not token:
            raise ValueError("a token is needed: pass token= or set ZKGATE_TOKEN")
        pem: Optional[bytes]
        if ca_cert is None or isinstance(ca_cert, bytes):
            pem = ca_cert
        else:
            with open(ca_cert, "rb") as f:
                pem = f.read()
        self.url = url
        self._client = _call(_native.GatewayClient, url, token, pem)

    def __repr__(self) -> str:
        return f"Gateway({self.url!r})"

    def datasets(self) -> List[Dataset]:
        """The datasets the gateway publishes: names, rows, commitments,
        schemas and prices."""
        return [
            Dataset(
                name=d["name"],
                rows=int(d["rows"]),
                commitment=d["commitment"],
                schema=d["schema"],
                price=int(d["price"]),
                shard_rows=d.get("shard_rows"),
            )
            for d in json.loads(_call(self._client.datasets))
        ]

    def dataset(self, name: str) -> Dataset:
        """Dataset ``name``.

        Raises:
            NotFound: the gateway publishes no such dataset.
        """
        for d in self.datasets():
            if d.name == name:
                return d
        from .errors import NotFound

        raise NotFound(f"the gateway publishes no dataset `{name}`", code="not_found")

    def mock(self, name: str) -> Any:
        """The mock twin of dataset ``name`` as a ``pandas.DataFrame``:
        synthetic rows drawn from the public schema's ranges, never the
        data, to develop and check a model against."""
        import pandas as pd

        csv = _call(self._client.mock, name)
        return pd.read_csv(io.BytesIO(bytes(csv)))

    def _prepare(
        self,
        model: Any,
        dataset: str,
        aggregate: str,
        label: Optional[str],
        columns: Optional[Sequence[str]],
        threshold: Optional[float],
        epsilon: Optional[float],
        idempotency_key: Optional[str],
        allow_suppression: int,
        ceremony_keys: Iterable[Union[PathLike, bytes]],
        kept_ceremony_keys: Iterable[str],
        check_rows: int,
        tolerance: float,
        proof_system: str = "groth16",
        family: Optional[str] = None,
    ) -> Dict[str, Any]:
        if proof_system not in ("groth16", "ezkl"):
            raise ValueError(f"proof_system is groth16 or ezkl, not {proof_system!r}")
        cols = list(columns) if columns is not None else feature_columns(model)
        conversion = None
        if isinstance(model, (bytes, bytearray, memoryview, str)) or hasattr(
            model, "__fspath__"
        ) or hasattr(model, "SerializeToString"):
            onnx, _ = to_onnx(model)
        else:
            meta = self.dataset(dataset)
            use = cols or [c for c in meta.columns if c != label]
            mock = self.mock(dataset)
            missing = [c for c in use if c not in mock.columns]
            if missing:
                raise ValueError(f"dataset `{dataset}` has no column(s) {missing}")
            sample = mock[use].head(check_rows).to_numpy(dtype="float64").tolist()
            onnx, conversion = to_onnx(model, sample=sample, tolerance=tolerance)
            cols = use
        zkeys = []
        for k in ceremony_keys:
            if isinstance(k, bytes):
                zkeys.append(k)
            else:
                with open(k, "rb") as f:
                    zkeys.append(f.read())
        kept = [str(k) for k in kept_ceremony_keys]
        manifest = json.loads(
            _call(
                _native.manifest_json,
                dataset,
                aggregate,
                label,
                threshold,
                cols,
                epsilon,
                idempotency_key,
                family,
            )
        )
        q = Question(
            _call(
                self._client.question,
                json.dumps(manifest),
                onnx,
                allow_suppression,
                zkeys,
                kept,
                proof_system == "ezkl",
            )
        )
        manifest["columns"] = q.columns
        manifest["question"] = json.loads(q.text)
        return dict(
            manifest=json.dumps(manifest),
            onnx=onnx,
            question=q,
            conversion=conversion,
            zkeys=zkeys,
            kept=kept,
        )

    def submit(
        self,
        model: Any,
        *,
        dataset: str,
        aggregate: str,
        label: Optional[str] = None,
        columns: Optional[Sequence[str]] = None,
        threshold: Optional[float] = None,
        epsilon: Optional[float] = None,
        idempotency_key: Optional[str] = None,
        allow_suppression: int = 10,
        ceremony_keys: Iterable[Union[PathLike, bytes]] = (),
        kept_ceremony_keys: Iterable[str] = (),
        check_rows: int = 256,
        tolerance: float = 0.0,
        proof_system: str = "groth16",
        family: Optional[str] = None,
    ) -> "Job":
        """Submits a model to run over a dataset, and returns its job.

        The question (dataset, model, columns, aggregate, the circuit the
        model compiles to, a fresh nonce) is compiled here, before anything
        is sent; the receipt must answer it (:attr:`Job.question`).

        Args:
            model: an ONNX file's path, its bytes, an ``onnx.ModelProto``,
                a fitted scikit-learn estimator or ``Pipeline`` (converted
                with skl2onnx), or a fitted XGBoost or LightGBM model
                (converted with onnxmltools); a converted model is checked
                first: its predictions on the mock twin must match the
                ONNX model's as the gateway reads it.
            dataset: the dataset's name.
            aggregate: ``accuracy``, ``confusion``, ``class_counts``,
                ``sum``, ``mean``, ``mse``, ``mae`` or ``count_at_least``.
            label: the label column (accuracy, confusion, mse, mae).
            columns: the model's input columns, in order (default: those
                a scikit-learn model was fitted on, else every column but
                the label).
            threshold: the threshold of ``count_at_least``, in output units.
            epsilon: release with differential-privacy noise at this
                epsilon, drawn in the circuit (spends your budget).
            idempotency_key: resubmitting with it returns the same job.
            allow_suppression: the largest small-cell suppression
                threshold the owner's release policy may apply (0: none).
            ceremony_keys: ceremony keys (``.zkey`` paths or bytes) you
                contributed to: the key of the job's one circuit, which proves every shard.
            kept_ceremony_keys: keys the gateway kept from your earlier
                jobs, by verifying-key hash.
            check_rows: mock rows a fitted model's conversion is checked on.
            tolerance: the fraction of those rows allowed to disagree.
            proof_system: ``groth16`` (default) or ``ezkl`` (halo2 with KZG
                over a universal SRS: no ceremony, no noise, no
                suppression, small jobs; the gateway needs an ezkl
                backend). An ezkl receipt is verified with
                ``ezkl_srs_dir=`` (and ``ezkl_python=``).
            family: a model-family circuit's bounds, ``"T:W:B"`` (``zkgate
                inspect --schema`` fits them): the weights are private
                inputs within them, so a retrained model keeps the circuit,
                its ceremony key and the owner's kept keys; the receipt's
                circuit id still names the weights proved.

        Raises:
            PolicyDenied: the owner's policy refuses the job.
            BudgetExhausted: your privacy budget is spent.
            ModelRefused: the model uses an op or structure the compiler
                does not support (``op`` and ``node`` name it).
            ConversionMismatch: the converted model predicts otherwise.
            MissingExtra: a converter is not installed.
        """
        p = self._prepare(
            model, dataset, aggregate, label, columns, threshold, epsilon,
            idempotency_key, allow_suppression, ceremony_keys,
            kept_ceremony_keys, check_rows, tolerance, proof_system, family,
        )
        job = json.loads(
            _call(self._client.submit, p["manifest"], p["onnx"], p["zkeys"], p["kept"])
        )
        return Job(self, job, question=p["question"], model=p["onnx"], conversion=p["conversion"])

    def dry_run(
        self,
        model: Any,
        *,
        dataset: str,
        aggregate: str,
        label: Optional[str] = None,
        columns: Optional[Sequence[str]] = None,
        threshold: Optional[float] = None,
        epsilon: Optional[float] = None,
        allow_suppression: int = 10,
        check_rows: int = 256,
        tolerance: float = 0.0,
    ) -> DryRun:
        """What :meth:`submit` with the same arguments would do: the
        policy's decisions, the circuit's size, the estimated time and
        memory. Nothing is stored or proved, no budget is spent."""
        p = self._prepare(
            model, dataset, aggregate, label, columns, threshold, epsilon,
            None, allow_suppression, (), (), check_rows, tolerance,
        )
        d = json.loads(_call(self._client.dry_run, p["manifest"], p["onnx"]))
        return DryRun(
            decision=d["decision"],
            rules=list(d["rules"]),
            message=d["message"],
            compiled_decision=d["compiled_decision"],
            compiled_rules=list(d["compiled_rules"]),
            constraints=int(d["constraints"]),
            shards=int(d["shards"]),
            circuit_id=d["circuit_id"],
            estimated_s=float(d["estimated_s"]),
            memory_mb=int(d["memory_mb"]),
            note=d["note"],
            question=p["question"],
            conversion=p["conversion"],
        )

    def job(self, id: str) -> "Job":
        """Job ``id`` (its question is not known here: pass the one
        :meth:`submit` returned to :meth:`Receipt.verify`)."""
        return Job(self, json.loads(_call(self._client.job, id)))

    def jobs(self) -> List["Job"]:
        """Your jobs."""
        return [Job(self, j) for j in json.loads(_call(self._client.jobs))]


_TERMINAL = {"done", "failed", "cancelled"}


@dataclass
class Job:
    """A submitted job. :meth:`wait` follows it to its receipt.

    Attributes:
        id: the gateway's job id.
        question: the question it answers (when submitted from here).
        model: the ONNX bytes sent.
        conversion: how a fitted model's conversion was checked.
    """

    gateway: Gateway
    record: Dict[str, Any]
    question: Optional[Question] = None
    model: Optional[bytes] = None
    conversion: Optional[Conversion] = None
    _receipt: Optional[Receipt] = field(default=None, repr=False)

    @property
    def id(self) -> str:
        """The job's id."""
        return str(self.record["id"])

    @property
    def state(self) -> str:
        """``queued``, ``held``, ``compiling``, ``setup``, ``proving``,
        ``proved``, ``settling``, ``done``, ``failed`` or ``cancelled``
        (as of the last :meth:`refresh`)."""
        return str(self.record["state"])

    @property
    def progress(self) -> Optional[Dict[str, Any]]:
        """Where a running job is: ``stage``, ``shard`` of ``shards``,
        ``elapsed_s``, ``estimated_s``."""
        return self.record.get("progress")

    @property
    def error(self) -> Optional[ZkgateError]:
        """Why the job failed, as the exception :meth:`wait` raises."""
        e = self.record.get("error")
        if not e:
            return None
        return from_detail(dict(e), default=JobFailed)

    def refresh(self) -> "Job":
        """Reads the job's record again; returns the job."""
        self.record = json.loads(_call(self.gateway._client.job, self.id))
        return self

    def cancel(self) -> "Job":
        """Cancels the job (a job already ended stays as it ended)."""
        self.record = json.loads(_call(self.gateway._client.cancel, self.id))
        return self

    def wait(
        self,
        timeout: Optional[float] = None,
        *,
        progress: bool = True,
        poll: float = 0.5,
    ) -> Receipt:
        """Waits until the job ends, with a progress bar over its shards
        (``tqdm``, which renders in Jupyter too), and returns its receipt.

        Raises:
            JobFailed: the job failed (a release-policy denial is a
                :class:`PolicyDenied`).
            JobCancelled: it was cancelled.
            TimeoutError: it did not end within ``timeout`` seconds.
        """
        from tqdm.auto import tqdm

        bar = tqdm(total=1, unit="shard", disable=not progress, desc=self.id[:12])
        start = time.monotonic()
        try:
            while True:
                self.refresh()
                p = self.progress or {}
                shards = int(p.get("shards") or 1)
                if bar.total != shards:
                    bar.total = shards
                done = shards if self.state in _TERMINAL else max(int(p.get("shard") or 1) - 1, 0)
                bar.n = min(done, shards)
                bar.set_postfix_str(f"{self.state} {p.get('stage', '')}".strip(), refresh=False)
                bar.refresh()
                if self.state in _TERMINAL:
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TimeoutError(f"job {self.id} is still {self.state} after {timeout} s")
                time.sleep(poll)
        finally:
            bar.close()
        if self.state == "cancelled":
            raise JobCancelled(f"job {self.id} was cancelled", code="cancelled")
        if self.state == "failed":
            raise self.error or JobFailed(f"job {self.id} failed", code="failed")
        return self.receipt()

    def receipt(self) -> Receipt:
        """The job's receipt and verifying keys (once it is done)."""
        if self._receipt is None:
            text = _call(self.gateway._client.receipt, self.id)
            vk = _call(self.gateway._client.vk, self.id)
            self._receipt = Receipt(text, bytes(vk))
        return self._receipt

    def __repr__(self) -> str:
        return f"Job({self.id!r}, {self.state})"
