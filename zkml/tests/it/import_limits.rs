//! Hostile models are refused on their declared sizes, before anything of
//! them is built or run: a 2^30-wide input, too many ops, too many
//! parameters, an intermediate tensor too large.

use prost::Message;
use std::path::Path;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as Type;
use tract_onnx::pb::ModelProto;
use zkgate_zkml::import::{load_bytes, load_bytes_within, ImportLimits};
use zkgate_zkml::Error;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models")
        .join(name);
    std::fs::read(p).unwrap()
}

fn over(e: Error, what: &str) {
    match &e {
        Error::OverLimit { what: w, .. } => assert_eq!(w, what, "{e}"),
        other => panic!("expected the {what} limit, got {other}"),
    }
}

#[test]
fn a_huge_declared_input_is_refused_before_it_is_built() {
    let mut m = ModelProto::decode(&fixture("linreg.onnx")[..]).unwrap();
    let g = m.graph.as_mut().unwrap();
    let input = g.input.iter_mut().next().unwrap();
    let Some(Type::TensorType(t)) = input.r#type.as_mut().and_then(|t| t.value.as_mut()) else {
        panic!("a tensor input")
    };
    let last = t.shape.as_mut().unwrap().dim.last_mut().unwrap();
    last.value = Some(Dim::DimValue(1 << 30));
    let e = load_bytes(&m.encode_to_vec()).unwrap_err();
    over(e, "input width");
    assert!(load_bytes(&fixture("linreg.onnx")).is_ok());
}

#[test]
fn ops_parameters_and_tensors_are_bounded() {
    let mlp = fixture("mlp.onnx");
    let ok = load_bytes_within(&mlp, &ImportLimits::default()).unwrap();
    let limits = |f: fn(&mut ImportLimits)| {
        let mut l = ImportLimits::default();
        f(&mut l);
        l
    };
    over(
        load_bytes_within(&mlp, &limits(|l| l.max_ops = 1)).unwrap_err(),
        "ops",
    );
    let params = ok.onnx_parameters;
    let e = load_bytes_within(&mlp, &limits(|l| l.max_parameters = 10)).unwrap_err();
    assert!(params > 10);
    over(e, "parameters");
    over(
        load_bytes_within(&mlp, &limits(|l| l.max_tensor_elements = 4)).unwrap_err(),
        "tensor elements",
    );
    over(
        load_bytes_within(&mlp, &limits(|l| l.max_op_work = 20)).unwrap_err(),
        "op work",
    );
    // A forest's nodes and leaves are attributes, counted as parameters.
    let forest = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exports/xgboost.onnx"),
    )
    .unwrap();
    assert!(load_bytes_within(&forest, &ImportLimits::default()).is_ok());
    over(
        load_bytes_within(&forest, &limits(|l| l.max_parameters = 1000)).unwrap_err(),
        "parameters",
    );
}
