"""zkgate for researchers: submit models to a zkgate gateway and verify
the proved answers, from Python.

The data never leaves its owner: a model is sent to the gateway, which
runs it over the owner's rows and proves (Groth16 over BN254) that the
aggregate it returns is this model's over the dataset whose commitment it
published. Everything here runs the workspace's own Rust code: the client,
the question compiler and the verifier.

    >>> import zkgate
    >>> gw = zkgate.Gateway(url, token, ca_cert="cert.pem")
    >>> gw.datasets()
    >>> job = gw.submit(model, dataset="breast_cancer", aggregate="accuracy", label="label")
    >>> receipt = job.wait()
    >>> receipt.verify(job.question, model=job.model)
"""

from . import _native
from .convert import Conversion, to_onnx
from .errors import (
    BadRequest,
    BudgetExhausted,
    Conflict,
    ConnectionFailed,
    ConversionMismatch,
    Forbidden,
    HeldForReview,
    InvalidReceipt,
    JobCancelled,
    JobFailed,
    LimitReached,
    MissingExtra,
    ModelRefused,
    NotFound,
    PolicyDenied,
    Unauthorized,
    ZkgateError,
)
from .gateway import Dataset, DryRun, Gateway, Job
from .receipt import Question, Receipt, Verdict, verify

__version__: str = _native.__version__

__all__ = [
    "Gateway",
    "Dataset",
    "DryRun",
    "Job",
    "Question",
    "Receipt",
    "Verdict",
    "Conversion",
    "verify",
    "to_onnx",
    "ZkgateError",
    "ConnectionFailed",
    "Unauthorized",
    "NotFound",
    "BadRequest",
    "PolicyDenied",
    "HeldForReview",
    "BudgetExhausted",
    "LimitReached",
    "Conflict",
    "Forbidden",
    "ModelRefused",
    "JobFailed",
    "JobCancelled",
    "InvalidReceipt",
    "ConversionMismatch",
    "MissingExtra",
]
