//! The ONNX ops the importer translates, and what each becomes: the
//! README's table is rendered from this list ([`markdown`]), and the tests
//! check it against the importer (every listed op is registered, every op
//! of every fixture that loads is listed).

/// One ONNX op the importer translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supported {
    /// The op's name.
    pub op: &'static str,
    /// Its domain: `""` (ONNX) or `"ai.onnx.ml"`.
    pub domain: &'static str,
    /// What it becomes in the circuit, and its conditions.
    pub becomes: &'static str,
}

const fn op(op: &'static str, becomes: &'static str) -> Supported {
    Supported {
        op,
        domain: "",
        becomes,
    }
}

const fn ml(op: &'static str, becomes: &'static str) -> Supported {
    Supported {
        op,
        domain: "ai.onnx.ml",
        becomes,
    }
}

const LINEAR: &str = "part of one affine map (free)";

/// Every op the importer translates, ONNX's first, then `ai.onnx.ml`'s.
pub const SUPPORTED: &[Supported] = &[
    op(
        "Add",
        "affine: with a constant, or of two values of the same layer",
    ),
    op("AveragePool", LINEAR),
    op(
        "BatchNormalization",
        "affine (inference: running statistics)",
    ),
    op("Cast", "to float32 only: nothing"),
    op(
        "Clip",
        "exact clamp table (ReLU6, Hardtanh); merged with a neighbouring ReLU",
    ),
    op("Concat", LINEAR),
    op("Constant", "a constant"),
    op("Conv", "affine (1-D and 2-D, constant weights)"),
    op("Div", "affine: by a constant"),
    op("Dropout", "nothing (inference)"),
    op(
        "Elu",
        "secant table over [-8, 0], x above: within 2.9e-3 (alpha 1)",
    ),
    op("Flatten", LINEAR),
    op("Gather", "affine: constant indices only"),
    op("Gemm", LINEAR),
    op(
        "GlobalAveragePool",
        "affine (a sum over an axis and a division)",
    ),
    op("HardSigmoid", "affine, then an exact clamp to [0, 1]"),
    op(
        "HardSwish",
        "secant table over [-3, 3], exact lines outside: within 1.3e-3",
    ),
    op("Identity", "nothing"),
    op("LeakyRelu", "exact two-line table (0 <= alpha < 1)"),
    op("MatMul", "affine: by a constant"),
    op("MaxPool", "windowed maximum (comparisons)"),
    op("Mul", "affine: by a constant"),
    op(
        "PRelu",
        "LeakyRelu: one slope only (PyTorch's nn.PReLU() default)",
    ),
    op(
        "Relu",
        "bit decomposition, shared with the rescale before it",
    ),
    op("Reshape", LINEAR),
    op(
        "Selu",
        "secant table over [-8, 0], gamma x above: within 4.4e-3 + 1.9e-6 abs(x)",
    ),
    op(
        "Sigmoid",
        "secant table over [-8, 8]: within 1.7e-3; a classifier's last: its argmax",
    ),
    op("Slice", LINEAR),
    op("Softmax", "a classifier's last op only: its argmax"),
    op(
        "Softplus",
        "secant table over [-8, 8], x above: within 2.9e-3",
    ),
    op("Squeeze", LINEAR),
    op(
        "Sub",
        "affine: with a constant, or of two values of the same layer",
    ),
    op(
        "Tanh",
        "secant table over [-4, 4]: within 2.5e-3; a classifier's last: its argmax",
    ),
    op("Transpose", LINEAR),
    op("Unsqueeze", LINEAR),
    ml(
        "ArrayFeatureExtractor",
        "affine: constant indices (skl2onnx's column selection)",
    ),
    ml(
        "Binarizer",
        "at the input: one-branch trees (exact); inside: an exact step",
    ),
    ml(
        "Imputer",
        "of NaN only: nothing (datasets hold no missing values)",
    ),
    ml(
        "LinearClassifier",
        "affine; its post-transform keeps the argmax",
    ),
    ml("LinearRegressor", LINEAR),
    ml(
        "Normalizer",
        "a classifier's last, L1 or L2 over probabilities: nothing",
    ),
    ml(
        "OneHotEncoder",
        "integer categories of input columns: one-branch-pair trees, the other columns passed through",
    ),
    ml(
        "SVMClassifier",
        "linear kernel, two classes: a LinearClassifier",
    ),
    ml("SVMRegressor", "linear kernel: a LinearRegressor"),
    ml("Scaler", LINEAR),
    ml(
        "TreeEnsembleClassifier",
        "bucketed comparisons and leaf sums, at the input",
    ),
    ml(
        "TreeEnsembleRegressor",
        "bucketed comparisons and leaf sums, at the input",
    ),
    ml("ZipMap", "nothing: the tensor it reads is proved"),
];

/// Whether `op` (of any domain) is in [`SUPPORTED`].
pub fn is_supported(op: &str) -> bool {
    SUPPORTED.iter().any(|s| s.op == op)
}

/// The list as a Markdown table.
pub fn markdown() -> String {
    let mut t = String::from("| op | domain | becomes |\n|---|---|---|\n");
    for s in SUPPORTED {
        let domain = if s.domain.is_empty() {
            "onnx"
        } else {
            s.domain
        };
        t.push_str(&format!("| `{}` | {} | {} |\n", s.op, domain, s.becomes));
    }
    t
}

/// The ops' names, comma-separated (for a refusal's hint).
pub fn names() -> String {
    SUPPORTED
        .iter()
        .map(|s| s.op)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique_per_domain() {
        for domain in ["", "ai.onnx.ml"] {
            let names: Vec<_> = SUPPORTED
                .iter()
                .filter(|s| s.domain == domain)
                .map(|s| s.op)
                .collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "{domain}");
        }
        assert!(markdown().lines().count() == SUPPORTED.len() + 2);
    }
}
