"""The exceptions of the ``zkgate`` package.

Every error the gateway answers with, and every error found locally (a
model the compiler refuses, a receipt that does not verify), is a
:class:`ZkgateError` carrying the gateway's HTTP status (0 when found
locally), its stable ``code`` and its ``message``.
"""

from __future__ import annotations

import json
import re
from typing import List, Optional

__all__ = [
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


class ZkgateError(Exception):
    """An error of the gateway or of this package.

    Attributes:
        status: the HTTP status of the gateway's answer (0: found locally).
        code: the gateway's stable error code (``policy_denied``,
            ``unsupported_op``, ...).
        message: what went wrong, in words.
        rules: the policy rules behind a denial or a hold.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "error",
        rules: Optional[List[str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.rules = list(rules or [])

    def __str__(self) -> str:
        where = f"{self.status} " if self.status else ""
        rules = f" [{', '.join(self.rules)}]" if self.rules else ""
        return f"{where}{self.code}: {self.message}{rules}"


class ConnectionFailed(ZkgateError):
    """The gateway could not be reached, or its answer not read (TLS,
    refused connection, a certificate not trusted)."""


class Unauthorized(ZkgateError):
    """The bearer token is missing, wrong or revoked."""


class NotFound(ZkgateError):
    """The dataset, job or key does not exist, or is not visible to you."""


class BadRequest(ZkgateError):
    """The request is malformed (a manifest field, a question)."""


class PolicyDenied(ZkgateError):
    """The data owner's policy refuses the job; ``rules`` names why."""


class HeldForReview(ZkgateError):
    """The owner's policy holds the job for the owner's approval."""


class BudgetExhausted(PolicyDenied):
    """The dataset's privacy budget left is less than the job's epsilon."""


class LimitReached(ZkgateError):
    """A quota or concurrency limit was reached: try again later."""


class Conflict(ZkgateError):
    """The request conflicts with the gateway's state (a job's state, a
    dataset published differently than the question pins)."""


class Forbidden(ZkgateError):
    """You may not use what the request names."""


class ModelRefused(ZkgateError):
    """The model cannot be compiled: malformed ONNX, an unsupported op
    (``op`` and ``node`` name it), a structure or size over the limits.

    Attributes:
        op: the unsupported ONNX op, when that is the reason.
        node: the node that uses it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "unsupported_op",
        rules: Optional[List[str]] = None,
        op: Optional[str] = None,
        node: Optional[str] = None,
    ) -> None:
        super().__init__(message, status=status, code=code, rules=rules)
        self.op = op
        self.node = node


class JobFailed(ZkgateError):
    """The job ended in ``failed``: ``code`` and ``message`` are the
    gateway's reason (a release-policy denial is a :class:`PolicyDenied`)."""


class JobCancelled(ZkgateError):
    """The job was cancelled before it ended."""


class InvalidReceipt(ZkgateError):
    """The receipt does not verify, or does not answer the question
    (``message`` says which check failed)."""


class ConversionMismatch(ZkgateError):
    """The converted ONNX model does not predict what the fitted model
    predicts on the mock twin."""


class MissingExtra(ZkgateError, ImportError):
    """An optional dependency is missing: install the named extra
    (``pip install zkgate[sklearn]``)."""


_BY_CODE = {
    "connection": ConnectionFailed,
    "config": ConnectionFailed,
    "unauthorized": Unauthorized,
    "not_found": NotFound,
    "bad_request": BadRequest,
    "invalid_job": BadRequest,
    "overflow": BadRequest,
    "bad_csv": BadRequest,
    "policy_denied": PolicyDenied,
    "held": HeldForReview,
    "budget_exhausted": BudgetExhausted,
    "limit_reached": LimitReached,
    "conflict": Conflict,
    "forbidden": Forbidden,
    "malformed_model": ModelRefused,
    "unsupported_op": ModelRefused,
    "unsupported_model": ModelRefused,
    "model_over_limit": ModelRefused,
    "bad_receipt": InvalidReceipt,
}

_OP_AT_NODE = re.compile(r"unsupported op `([^`]*)` at node `([^`]*)`")


def from_detail(
    detail: dict, *, default: type = ZkgateError
) -> ZkgateError:
    """The exception for an error as the gateway describes it
    (``{"status", "code", "message", "rules", "op", "node"}``)."""
    code = str(detail.get("code") or "error")
    message = str(detail.get("message") or code)
    kw = dict(
        status=int(detail.get("status") or 0),
        code=code,
        rules=[str(r) for r in detail.get("rules") or []],
    )
    cls = _BY_CODE.get(code, default)
    if cls is ModelRefused:
        op, node = detail.get("op"), detail.get("node")
        m = _OP_AT_NODE.search(message)
        if m and not op:
            op, node = m.group(1), m.group(2)
        return ModelRefused(message, op=op, node=node, **kw)
    return cls(message, **kw)


def from_native(e: Exception) -> ZkgateError:
    """The exception for a ``zkgate._native.NativeError``."""
    try:
        detail = json.loads(str(e.args[0]))
    except (ValueError, IndexError, TypeError):
        return ZkgateError(str(e))
    return from_detail(detail)
