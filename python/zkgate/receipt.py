"""Questions, receipts and their verification.

A :class:`Question` is what the researcher asked, written down before the
job is sent: the dataset (name, commitment, rows, schema hash), the model
file's hash, the columns, the aggregate, the quantization, the noise and
the circuit the model compiles to, and a fresh nonce. Its hash binds the
proofs, so a receipt answers exactly one question. A :class:`Receipt` is
what leaves the gateway; :meth:`Receipt.verify` checks it with the
workspace's own verifier (``zkgate verify``'s code).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _native
from .errors import InvalidReceipt, from_native

__all__ = ["Question", "Receipt", "Verdict", "verify"]

PathLike = Union[str, "os.PathLike[str]"]


class Question:
    """A researcher's question (its JSON as ``zkgate submit`` writes it)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._data: Dict[str, Any] = json.loads(text)
        try:
            self.hash, self.nonce = _native.question_info(text)
        except _native.NativeError as e:
            raise from_native(e) from None

    @property
    def dataset(self) -> Dict[str, Any]:
        """The dataset pinned: ``name``, ``commitment``, ``rows``,
        ``schema_sha256``."""
        return dict(self._data["dataset"])

    @property
    def columns(self) -> List[str]:
        """The model's input columns, in order."""
        return list(self._data["columns"])

    @property
    def aggregate(self) -> Dict[str, Any]:
        """The aggregate asked for (``{"kind": ..., "label": ...}``)."""
        return dict(self._data["aggregate"])

    @property
    def model_sha256(self) -> str:
        """SHA-256 of the ONNX file the question is about."""
        return str(self._data["model_sha256"])

    def to_dict(self) -> Dict[str, Any]:
        """The question as a dict (a copy)."""
        return json.loads(self.text)

    def save(self, path: PathLike) -> None:
        """Writes the question's JSON (``zkgate verify --question`` reads
        it)."""
        with open(path, "w") as f:
            f.write(self.text)

    @classmethod
    def load(cls, path: PathLike) -> "Question":
        """Reads a question written by :meth:`save` or ``zkgate submit``."""
        with open(path) as f:
            return cls(f.read())

    def __repr__(self) -> str:
        d = self._data["dataset"]
        return (
            f"Question({self._data['aggregate'].get('kind')} over "
            f"{d['name']!r}, {d['rows']} rows, hash {self.hash[:16]}...)"
        )


@dataclass(frozen=True)
class Verdict:
    """What verifying a receipt found (it is valid: an invalid one raises
    :class:`InvalidReceipt`).

    Attributes:
        result: the aggregate's values, as numbers.
        rows: the rows the values are over.
        commitment: the dataset commitment the proofs are over.
        checked: every check that was made, in words.
        unchecked: what was not checked (no question: the receipt's own
            header was taken as the question; no ceremony: the keys'
            origin is the prover's word).
        setup: who made the keys, as the receipt says.
        noise: the differential-privacy noise released with, if any.
    """

    result: Dict[str, Any]
    rows: int
    commitment: str
    checked: List[str] = field(default_factory=list)
    unchecked: List[str] = field(default_factory=list)
    setup: str = ""
    noise: Optional[Dict[str, Any]] = None

    def __str__(self) -> str:
        lines = [f"valid: {self.result} over {self.rows} rows of dataset {self.commitment}"]
        lines += [f"checked: {c}" for c in self.checked]
        lines += [f"not checked: {u}" for u in self.unchecked]
        return "\n".join(lines)


def _model_bytes(model: Any) -> Optional[bytes]:
    if model is None:
        return None
    from .convert import to_onnx

    if isinstance(model, (bytes, bytearray, memoryview, str)) or hasattr(
        model, "__fspath__"
    ) or hasattr(model, "SerializeToString"):
        return to_onnx(model)[0]
    raise TypeError(
        "verify(model=...) takes the ONNX model sent (a path, bytes or an "
        "onnx.ModelProto): the receipt pins the ONNX file's hash"
    )


def verify(
    receipt: str,
    vk: bytes,
    *,
    question: Union[Question, str, None] = None,
    model: Any = None,
    schema: Union[Dict[str, Any], str, None] = None,
    require_ceremony: bool = False,
    trust_ptau: Iterable[str] = (),
    ezkl_python: Optional[PathLike] = None,
    ezkl_srs_dir: Optional[PathLike] = None,
) -> Verdict:
    """Verifies a receipt (JSON text) against its verifying keys (``vk.bin``
    bytes).

    Args:
        receipt: the receipt's JSON.
        vk: the verifying keys.
        question: the question it must answer (every field, the nonce
            included); without it, the receipt's own header is taken as the
            question, which :attr:`Verdict.unchecked` says.
        model: the ONNX model sent: the question's and the receipt's
            circuits are rebuilt from it and compared.
        schema: the dataset's declared schema the receipt must be over.
        require_ceremony: accept only keys the question's ceremony pin
            names (the keys you contributed to), made over a public
            powers-of-tau file or one in ``trust_ptau``.
        trust_ptau: BLAKE2b hashes (hex) of powers-of-tau files trusted
            besides the public ones (a local test file you made).
        ezkl_python: for a receipt proved with ezkl (``proof_system:
            ezkl``): a Python with ezkl installed (default: this one); the
            question and the model are then required.
        ezkl_srs_dir: for an ezkl receipt: your SRS files
            (``kzg{logrows}.srs``), a public ceremony's.

    Raises:
        InvalidReceipt: a proof, the question, the model or the schema does
            not check; the message says which.
    """
    q = question.text if isinstance(question, Question) else question
    s = json.dumps(schema) if isinstance(schema, dict) else schema
    if json.loads(receipt).get("proof_system") == "ezkl":
        if q is None or model is None or ezkl_srs_dir is None:
            raise InvalidReceipt(
                "an ezkl receipt is checked against its question and model through "
                "ezkl's verifier: give question=, model= and ezkl_srs_dir= (and "
                "ezkl_python= unless this Python has ezkl)",
                code="bad_request",
            )
        import sys

        try:
            v = json.loads(
                _native.verify_ezkl(
                    receipt,
                    q,
                    _model_bytes(model),
                    os.fspath(ezkl_python or sys.executable),
                    os.fspath(ezkl_srs_dir),
                )
            )
        except _native.NativeError as e:
            raise from_native(e) from None
        return _verdict(v)
    try:
        v = json.loads(
            _native.verify(
                receipt, bytes(vk), q, _model_bytes(model), s, require_ceremony, list(trust_ptau)
            )
        )
    except _native.NativeError as e:
        raise from_native(e) from None
    return _verdict(v)


def _verdict(v: Dict[str, Any]) -> Verdict:
    """A native verdict (JSON, parsed) as a :class:`Verdict`, or the
    :class:`InvalidReceipt` it stands for."""
    if not v["valid"]:
        raise InvalidReceipt(str(v["reason"]), code="invalid_receipt")
    return Verdict(
        result=v["result"],
        rows=int(v["rows"]),
        commitment=str(v["commitment"]),
        checked=list(v.get("checked") or []),
        unchecked=list(v.get("unchecked") or []),
        setup=str(v.get("setup") or ""),
        noise=v.get("noise"),
    )


class Receipt:
    """A job's receipt and its verifying keys.

    Attributes:
        text: the receipt's JSON, as the gateway sent it.
        vk: its verifying keys (``vk.bin`` bytes).
    """

    def __init__(self, text: str, vk: bytes) -> None:
        self.text = text
        self.vk = bytes(vk)
        self._data: Dict[str, Any] = json.loads(text)

    @property
    def result(self) -> Dict[str, Any]:
        """The aggregate's values as numbers (``{"accuracy": 0.95, ...}``,
        ``{"matrix": [[...]], ...}``). Read before verification, they are
        the gateway's word: call :meth:`verify`."""
        return dict(self._data["result"])

    @property
    def rows(self) -> int:
        """The rows the aggregate is over."""
        return int(self._data["rows"])

    @property
    def commitment(self) -> str:
        """The dataset commitment the proofs are over."""
        return str(self._data["commitment"])

    @property
    def setup(self) -> str:
        """Who made the proving keys, as the receipt says."""
        return str(self._data["setup"])

    @property
    def agreement(self) -> Optional[Dict[str, Any]]:
        """How closely the quantized model followed the float model on the
        rows (the gateway's report, not proved)."""
        return self._data.get("agreement")

    def confusion(self) -> Any:
        """A confusion matrix as a labelled ``pandas.DataFrame`` (rows: the
        label, columns: the prediction); ``None`` for other aggregates.
        Suppressed cells are ``NaN``."""
        m = self._data["result"].get("matrix")
        if m is None:
            return None
        import pandas as pd

        k = len(m)
        return pd.DataFrame(
            [[float("nan") if c is None else c for c in row] for row in m],
            index=pd.Index([f"label {i}" for i in range(k)], name="label"),
            columns=pd.Index([f"predicted {i}" for i in range(k)], name="prediction"),
        )

    def verify(
        self,
        question: Union[Question, str, None] = None,
        model: Any = None,
        *,
        schema: Union[Dict[str, Any], str, None] = None,
        require_ceremony: bool = False,
        trust_ptau: Iterable[str] = (),
        ezkl_python: Optional[PathLike] = None,
        ezkl_srs_dir: Optional[PathLike] = None,
    ) -> Verdict:
        """Verifies this receipt; see :func:`zkgate.verify`.

        Raises:
            InvalidReceipt: with the reason.
        """
        return verify(
            self.text,
            self.vk,
            question=question,
            model=model,
            schema=schema,
            require_ceremony=require_ceremony,
            trust_ptau=trust_ptau,
            ezkl_python=ezkl_python,
            ezkl_srs_dir=ezkl_srs_dir,
        )

    @property
    def proof_system(self) -> str:
        """``groth16`` or ``ezkl``."""
        return str(self._data.get("proof_system", "groth16"))

    def save(self, path: PathLike, vk_path: PathLike) -> None:
        """Writes the receipt and its verifying keys (``zkgate verify``
        reads both)."""
        with open(path, "w") as f:
            f.write(self.text)
        with open(vk_path, "wb") as f:
            f.write(self.vk)

    @classmethod
    def load(cls, path: PathLike, vk_path: PathLike) -> "Receipt":
        """Reads a receipt and its verifying keys."""
        with open(path) as f:
            text = f.read()
        with open(vk_path, "rb") as f:
            return cls(text, f.read())

    def __repr__(self) -> str:
        return f"Receipt({self._data['result']}, {self.rows} rows)"
