"""Models as the gateway takes them: ONNX bytes.

A model is given as ONNX (a path, bytes, or an ``onnx.ModelProto``), as
a fitted scikit-learn estimator or ``Pipeline``, converted here with
skl2onnx (the ``sklearn`` extra), or as a fitted XGBoost or LightGBM
model (``XGBClassifier``, ``LGBMRegressor``, ...), converted with
onnxmltools (the ``xgboost`` and ``lightgbm`` extras). A converted model is checked before it
is sent: the fitted model's own predictions on the dataset's mock twin
must match what the gateway's importer computes from the ONNX file
(:func:`zkgate._native.run_float`, the same code that the gateway runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from . import _native
from .errors import ConversionMismatch, MissingExtra, from_native

__all__ = ["Conversion", "to_onnx", "feature_columns"]

# The opsets the gateway's importer reads (tract 0.23).
ONNX_OPSET = 15
ONNX_ML_OPSET = 3


@dataclass(frozen=True)
class Conversion:
    """How a fitted model's conversion to ONNX was checked.

    Attributes:
        converter: what converted it (``skl2onnx 1.20.0``).
        rows: mock rows compared.
        agreeing: rows where the ONNX model (as the gateway reads it) and
            the fitted model predict the same class, or values within
            ``1e-3`` relative; a row whose two best class scores are within
            float32 rounding of each other counts as agreeing whichever
            class each side picks (see ``ties``).
        classifier: whether classes (rather than values) were compared.
        ties: rows counted as agreeing although the classes differ, their
            best scores tied within float32 rounding (``1e-6`` relative).
    """

    converter: str
    rows: int
    agreeing: int
    classifier: bool
    ties: int = 0

    @property
    def agreement(self) -> float:
        """``agreeing / rows``."""
        return self.agreeing / self.rows if self.rows else 1.0


def _is_sklearn(model: Any) -> bool:
    return any(
        c.__module__.split(".")[0] == "sklearn" for c in type(model).__mro__
    )


def feature_columns(model: Any) -> Optional[List[str]]:
    """The columns a fitted scikit-learn model was fitted on, when it was
    fitted on a DataFrame (``feature_names_in_``)."""
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _skl2onnx(model: Any, n_inputs: int) -> Tuple[bytes, str]:
    try:
        import numpy as np
        import skl2onnx
        from skl2onnx import to_onnx as skl_to_onnx
    except ImportError as e:
        raise MissingExtra(
            f"converting a scikit-learn model needs skl2onnx ({e}): "
            "pip install 'zkgate[sklearn]'",
            code="missing_extra",
        ) from e
    x = np.zeros((1, n_inputs), dtype=np.float32)
    proto = skl_to_onnx(
        model, x, target_opset={"": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET}
    )
    return proto.SerializeToString(), f"skl2onnx {skl2onnx.__version__}"


def _boosting(model: Any, n_inputs: int) -> Optional[Tuple[bytes, str]]:
    """XGBoost and LightGBM models through onnxmltools (the ``xgboost`` and
    ``lightgbm`` extras); ``None`` for anything else."""
    top = type(model).__module__.split(".")[0]
    if top not in ("xgboost", "lightgbm"):
        return None
    try:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError as e:
        raise MissingExtra(
            f"converting a {top} model needs onnxmltools ({e}): "
            f"pip install 'zkgate[{top}]'",
            code="missing_extra",
        ) from e
    spec = [("input", FloatTensorType([None, n_inputs]))]
    if top == "xgboost":
        # onnxmltools reads features by position (`f0`, `f1`, ...): a model
        # fitted on a DataFrame is converted from a copy without names.
        if getattr(model, "feature_names_in_", None) is not None:
            import copy

            model = copy.deepcopy(model)
            model.get_booster().feature_names = None
        proto = onnxmltools.convert_xgboost(model, initial_types=spec, target_opset=ONNX_OPSET)
    else:
        proto = onnxmltools.convert_lightgbm(
            model, initial_types=spec, target_opset=ONNX_OPSET, zipmap=False
        )
    return proto.SerializeToString(), f"onnxmltools {onnxmltools.__version__}"


def to_onnx(
    model: Any,
    *,
    sample: Optional[Sequence[Sequence[float]]] = None,
    n_inputs: Optional[int] = None,
    tolerance: float = 0.0,
) -> Tuple[bytes, Optional[Conversion]]:
    """The ONNX bytes of ``model``, and how its conversion was checked.

    Args:
        model: an ONNX file's path, its bytes, an ``onnx.ModelProto``, a
            fitted scikit-learn estimator or ``Pipeline``, or a fitted
            XGBoost or LightGBM scikit-learn-style model.
        sample: rows (the mock twin's model columns) to check a converted
            model on; required for a fitted model.
        n_inputs: the model's number of input columns (default: the
            sample's width).
        tolerance: the fraction of sample rows allowed to disagree (float32
            against float64 can flip a row on a class boundary).

    Raises:
        MissingExtra: a converter is not installed.
        ConversionMismatch: the converted model predicts otherwise.
        TypeError: ``model`` is none of the above.
    """
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return f.read(), None
    if hasattr(model, "SerializeToString") and hasattr(model, "graph"):
        return model.SerializeToString(), None
    if type(model).__module__.split(".")[0] in ("xgboost", "lightgbm") or _is_sklearn(model):
        if sample is None:
            raise ValueError("a fitted model is checked on sample rows: pass sample=")
        rows = [[float(v) for v in r] for r in sample]
        width = n_inputs or (len(rows[0]) if rows else 0)
        onnx, converter = _boosting(model, width) or _skl2onnx(model, width)
        return onnx, _check(model, onnx, rows, converter, tolerance)
    kind = f"{type(model).__module__}.{type(model).__name__}"
    raise TypeError(
        f"cannot send a {kind}: give an ONNX file, its bytes, or a fitted "
        "scikit-learn estimator or Pipeline, XGBoost or LightGBM model "
        "(export other frameworks to ONNX first, e.g. torch.onnx.export)"
    )


def _check(
    model: Any, onnx: bytes, rows: List[List[float]], converter: str, tolerance: float
) -> Conversion:
    import numpy as np

    try:
        outputs = _native.run_float(onnx, rows)
    except _native.NativeError as e:
        raise from_native(e) from None
    x: Any = np.asarray(rows, dtype=np.float64)
    names = feature_columns(model)
    if names is not None and len(names) == x.shape[1]:
        import pandas as pd

        x = pd.DataFrame(x, columns=names)
    predicted = np.asarray(model.predict(x))
    classes = getattr(model, "classes_", None)
    agreeing = ties = 0
    if classes is not None:
        # The proved output is the class scores; its argmax is the class.
        index = {c: i for i, c in enumerate(list(classes))}
        for out, p in zip(outputs, predicted):
            if len(out) == 1:
                cut = 0.5 if len(classes) == 2 else 0.0
                got, margin, scale = int(out[0] > cut), abs(out[0] - cut), abs(out[0])
            else:
                best = sorted(out, reverse=True)
                got, margin, scale = int(np.argmax(out)), best[0] - best[1], abs(best[0])
            if got == index.get(p.item() if hasattr(p, "item") else p):
                agreeing += 1
            elif margin <= 1e-6 * max(1.0, scale):
                agreeing += 1
                ties += 1
    else:
        for out, p in zip(outputs, np.atleast_2d(predicted.T).T):
            got = np.asarray(out, dtype=np.float64)
            want = np.asarray(p, dtype=np.float64).reshape(got.shape)
            agreeing += int(np.all(np.abs(got - want) <= 1e-3 * (1 + np.abs(want))))
    c = Conversion(converter, len(rows), agreeing, classes is not None, ties)
    if c.rows and c.agreement < 1.0 - tolerance:
        raise ConversionMismatch(
            f"the ONNX conversion ({converter}) agrees with the fitted model on "
            f"{agreeing} of {len(rows)} mock rows",
            code="conversion_mismatch",
        )
    return c
