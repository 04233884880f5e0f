//! A hostile owner's receipts against the researcher's question: each
//! changes one thing the owner controls and must be named.

use super::*;
use crate::aggregate::{AggregateParams, Noise};
use crate::receipt::ShardProof;
use crate::schema::Schema;

fn schema() -> Schema {
    Schema::from_json(
        br#"{"columns":[
            {"name":"f0","type":"real","min":-4,"max":4},
            {"name":"f1","type":"real","min":-4,"max":4},
            {"name":"f2","type":"real","min":-4,"max":4},
            {"name":"y","type":"integer","min":0,"max":1}]}"#,
    )
    .unwrap()
}

fn header(rows: u64) -> SpecHeader {
    SpecHeader {
        version: crate::VERSION,
        shard_rows: rows,
        schema: schema(),
        quant: QuantConfig::default(),
        input_columns: vec![0, 1, 2],
        label_column: None,
        aggregate: Aggregate::Mean,
        params: AggregateParams::new(1, 12),
        output_scale: 12,
        outputs: 1,
        onnx_sha256: "aa".repeat(32),
        plan_sha256: "bb".repeat(32),
        weights: None,
    }
}

const COMMITMENT: &str = "0x0b3d9000000000000000000000000000000000000000000000000000000000aa";

fn question(rows: u64, shard: Option<u64>) -> Question {
    Question::new(
        "heart",
        COMMITMENT,
        rows,
        header(rows),
        OwnerBounds {
            shard_rows: shard,
            suppress_below_max: 0,
        },
        [7; 32],
    )
}

/// The receipt an honest gateway writes for `q` (proofs aside: those are
/// `Receipt::verify`'s).
fn answer(q: &Question) -> Receipt {
    let h = q.expected_circuit.clone();
    let plan = crate::ShardPlan::of(q.dataset.rows, h.shard_rows);
    Receipt {
        version: crate::VERSION,
        commitment: COMMITMENT.into(),
        rows: q.dataset.rows,
        nonce: fr_to_hex(q.job_nonce()),
        values: vec!["1".into()],
        result: serde_json::Value::Null,
        shards: plan
            .ranges()
            .into_iter()
            .map(|r| ShardProof {
                offset: r.start,
                rows: r.end - r.start,
                link_in: "0x0".into(),
                link_out: "0x0".into(),
                proof: String::new(),
                vk_sha256: "cc".repeat(32),
            })
            .collect(),
        setup: crate::receipt::SETUP_BY_GATEWAY.into(),
        agreement: None,
        quantization: serde_json::Value::Null,
        constraints: Default::default(),
        timings: Default::default(),
        circuit: h,
        proof_system: Default::default(),
        ezkl: None,
    }
}

fn field_of(q: &Question, r: &Receipt) -> &'static str {
    q.check(r, q.job_nonce()).unwrap_err().field
}

#[test]
fn the_honest_answer_passes_single_and_sharded() {
    for q in [question(100, None), question(100, Some(33))] {
        assert_eq!(q.check(&answer(&q), q.job_nonce()), Ok(()));
        let back = Question::from_json(q.to_json().as_bytes()).unwrap();
        assert_eq!(back.hash(), q.hash());
    }
    assert_eq!(question(100, Some(33)).circuit_ids.len(), 1);
}

#[test]
fn swapped_columns_are_named() {
    let q = question(100, None);
    let mut r = answer(&q);
    r.circuit.input_columns = vec![0, 2, 1];
    let m = q.check(&r, q.job_nonce()).unwrap_err();
    assert_eq!(m.field, "columns");
    assert!(m
        .to_string()
        .contains("asked [f0, f1, f2], proved [f0, f2, f1]"));
}

#[test]
fn another_commitment_rows_or_schema_is_named() {
    let q = question(100, None);
    let mut r = answer(&q);
    r.commitment = COMMITMENT.replace("aa", "ab");
    assert_eq!(field_of(&q, &r), "commitment");
    // Hex case is not a difference.
    let mut r = answer(&q);
    r.commitment = COMMITMENT.to_uppercase().replace("0X", "0x");
    assert_eq!(q.check(&r, q.job_nonce()), Ok(()));

    let mut r = answer(&q);
    r.rows = 99;
    assert_eq!(field_of(&q, &r), "rows");

    let mut r = answer(&q);
    r.circuit.schema.columns[1].max = 5.0;
    assert_eq!(field_of(&q, &r), "schema");
}

#[test]
fn another_quantization_epsilon_model_or_plan_is_named() {
    let q = question(100, None);
    let mut r = answer(&q);
    r.circuit.quant.act_bits = 8;
    assert_eq!(field_of(&q, &r), "quantization");

    let mut r = answer(&q);
    r.circuit.params.noise = Some(Noise::new(1.0, 8).unwrap());
    assert_eq!(field_of(&q, &r), "epsilon");

    let mut r = answer(&q);
    r.circuit.onnx_sha256 = "ab".repeat(32);
    assert_eq!(field_of(&q, &r), "model");

    let mut r = answer(&q);
    r.circuit.plan_sha256 = "ab".repeat(32);
    assert_eq!(field_of(&q, &r), "circuit");

    let mut r = answer(&q);
    r.circuit.aggregate = Aggregate::Sum;
    assert_eq!(field_of(&q, &r), "aggregate");
}

#[test]
fn another_epsilon_than_asked_is_named_for_noised_questions() {
    let mut h = header(100);
    h.params.noise = Some(Noise::new(1.0, 8).unwrap());
    let q = Question::new("heart", COMMITMENT, 100, h, OwnerBounds::default(), [1; 32]);
    assert_eq!(q.epsilon, Some(1.0));
    let mut r = answer(&q);
    r.circuit.params.noise = Some(Noise::new(2.0, 8).unwrap());
    assert_eq!(field_of(&q, &r), "epsilon");
    let mut r = answer(&q);
    r.circuit.params.noise = None;
    assert_eq!(field_of(&q, &r), "epsilon");
}

#[test]
fn the_owners_choices_are_held_to_their_bounds() {
    let q = question(100, Some(33));
    let mut r = answer(&q);
    r.circuit.shard_rows = 22;
    assert_eq!(field_of(&q, &r), "shard size");

    let mut r = answer(&q);
    r.circuit.params.suppress_below = 5;
    assert_eq!(field_of(&q, &r), "suppression");

    // Exact class cells: any threshold up to the bound, a public input of
    // the one circuit the question allows.
    let q = cells_question(5);
    let mut r = answer(&q);
    r.circuit.params.suppress_below = 5;
    assert_eq!(q.check(&r, q.job_nonce()), Ok(()));
    r.circuit.params.suppress_below = 6;
    assert_eq!(field_of(&q, &r), "suppression");
    // A mean has no cells: a threshold is refused.
    let mut q = question(100, Some(33));
    q.owner.suppress_below_max = 5;
    let mut r = answer(&q);
    r.circuit.params.suppress_below = 5;
    assert_eq!(field_of(&q, &r), "suppression");
}

fn cells_question(max: u64) -> Question {
    let mut h = header(100);
    h.aggregate = Aggregate::ClassCounts;
    Question::new(
        "heart",
        COMMITMENT,
        100,
        h,
        OwnerBounds {
            shard_rows: Some(33),
            suppress_below_max: max,
        },
        [7; 32],
    )
}

#[test]
fn one_circuit_serves_every_threshold_and_the_chain_pins_the_largest() {
    let q = question(100, Some(33));
    assert_eq!(q.chain_pins(), q.circuit_ids, "no cells: the circuit alone");
    assert_eq!(q.circuit_ids.len(), 1, "one circuit for every shard");
    let q = cells_question(3);
    assert_eq!(q.circuit_ids.len(), 1);
    assert_eq!(
        q.chain_pins(),
        vec![q.circuit_ids[0].clone(), fr_to_hex(Fr::from(3u64))]
    );
    // The threshold is no part of the circuit id.
    let mut h = q.expected_circuit.clone();
    h.params.suppress_below = 3;
    assert_eq!(h.id(), q.expected_circuit.id());
    assert_ne!(
        h, q.expected_circuit,
        "the header still says what was released"
    );
}

fn pin() -> ChainPin {
    ChainPin {
        chain_id: 31337,
        contract: format!("0x{}", "11".repeat(20)),
        dataset_id: 1,
        researcher: format!("0x{}", "33".repeat(20)),
    }
}

#[test]
fn an_on_chain_question_is_bound_to_its_contract() {
    let off = question(100, Some(33));
    let mut on = off.clone();
    on.chain = Some(pin());
    assert_eq!(
        on.job_nonce(),
        chain_nonce(31337, [0x11; 20], [0x33; 20], on.hash()),
        "the contract's questionNonce"
    );
    assert_ne!(on.job_nonce(), off.job_nonce());
    let mut elsewhere = on.clone();
    elsewhere.chain.as_mut().unwrap().contract = format!("0x{}", "22".repeat(20));
    assert_ne!(elsewhere.job_nonce(), on.job_nonce());
    // Another researcher opening the same question gets another nonce.
    let mut copied = on.clone();
    copied.chain.as_mut().unwrap().researcher = format!("0x{}", "44".repeat(20));
    assert_ne!(
        chain_nonce(31337, [0x11; 20], [0x44; 20], on.hash()),
        on.job_nonce()
    );
    assert_ne!(copied.job_nonce(), on.job_nonce());
    let mut other_chain = on.clone();
    other_chain.chain.as_mut().unwrap().chain_id = 1;
    assert_ne!(other_chain.job_nonce(), on.job_nonce());
    // An off-chain answer does not answer the on-chain question.
    assert_eq!(field_of(&on, &answer(&off)), "nonce");
    assert_eq!(on.check(&answer(&on), on.job_nonce()), Ok(()));
    let mut bad = on.clone();
    bad.chain.as_mut().unwrap().contract = "0x1234".into();
    assert!(bad.check_self().is_err());
}

#[test]
fn another_nonce_is_named_and_every_field_moves_the_nonce() {
    let q = question(100, None);
    let mut r = answer(&q);
    r.nonce = fr_to_hex(nonce_from(b"job_1"));
    assert_eq!(field_of(&q, &r), "nonce");

    let mut other = q.clone();
    other.nonce = hex::encode([8u8; 32]);
    assert_ne!(other.job_nonce(), q.job_nonce());
    let mut other = q.clone();
    other.owner.suppress_below_max = 1;
    assert_ne!(other.job_nonce(), q.job_nonce());
    let mut other = q.clone();
    other.dataset.name = "heart2".into();
    assert_ne!(other.job_nonce(), q.job_nonce());
}

#[test]
fn keys_outside_the_researchers_ceremony_are_named() {
    let mut q = question(100, None);
    q.ceremony = Some(CeremonyPin {
        contribution_hash: "dd".repeat(64),
        vk_sha256: vec!["ee".repeat(32)],
        ptau_blake2b: None,
    });
    let r = answer(&q);
    let m = q.check(&r, q.job_nonce()).unwrap_err();
    assert_eq!(m.field, "keys");
    let mut r = answer(&q);
    r.shards[0].vk_sha256 = "ee".repeat(32);
    assert_eq!(q.check(&r, q.job_nonce()), Ok(()));
}

#[test]
fn an_edited_question_is_refused_when_read() {
    let q = question(100, Some(33));
    let mut v: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    v["columns"] = serde_json::json!(["f1", "f0", "f2"]);
    let e = Question::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("columns"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    v["circuit_ids"][0] = serde_json::json!("0x01");
    let e = Question::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("circuit ids"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    v["nonce"] = serde_json::json!("00");
    assert!(Question::from_json(v.to_string().as_bytes()).is_err());

    let mut v: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    v["extra"] = serde_json::json!(1);
    assert!(Question::from_json(v.to_string().as_bytes()).is_err());
}

#[test]
fn the_published_json_schema_names_every_field() {
    let text = include_str!("../../../docs/question.schema.json");
    let schema: serde_json::Value = serde_json::from_str(text).unwrap();
    let props = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    let mut q = question(100, Some(33));
    q.ceremony = Some(CeremonyPin {
        contribution_hash: "dd".repeat(64),
        vk_sha256: vec![],
        ptau_blake2b: Some("ff".repeat(64)),
    });
    let json: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    // Fields an ezkl question adds (a Groth16 question omits them).
    let ezkl: serde_json::Value =
        serde_json::from_str(&question(100, None).with_ezkl("11").to_json()).unwrap();
    let without = |mut k: Vec<String>, name: &str| {
        assert!(k.iter().any(|x| x == name), "{name}");
        k.retain(|x| x != name);
        k
    };
    assert!(ezkl.get("proof_system").is_some());
    assert!(ezkl["dataset"].get("ezkl_hash").is_some());
    let mut on_chain = question(100, None).with_ezkl("11");
    on_chain.chain = Some(pin());
    on_chain.ezkl_verifier = Some(format!("0x{}", "ab".repeat(32)));
    on_chain.check_self().unwrap();
    let on_chain: serde_json::Value = serde_json::from_str(&on_chain.to_json()).unwrap();
    assert!(on_chain.get("ezkl_verifier").is_some());
    assert_eq!(
        without(without(props(&schema), "proof_system"), "ezkl_verifier"),
        keys(&json)
    );
    assert_eq!(
        without(props(&schema["properties"]["dataset"]), "ezkl_hash"),
        keys(&json["dataset"])
    );
    q.chain = Some(pin());
    // A model family's bounds, which a question without one omits.
    q.quant.family = Some(crate::quant::Family {
        term_log2: 1,
        weight_log2: 0,
        bias_log2: 2,
    });
    let json: serde_json::Value = serde_json::from_str(&q.to_json()).unwrap();
    for part in ["quant", "owner", "ceremony", "chain"] {
        assert_eq!(
            props(&schema["properties"][part]),
            keys(&json[part]),
            "{part}"
        );
    }
    let mut header: Vec<String> = schema["properties"]["expected_circuit"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    header.sort();
    assert_eq!(header, keys(&json["expected_circuit"]));
}

const EZKL_HASH: &str = "11223344";

/// The receipt an honest gateway writes for an ezkl question.
fn ezkl_answer(q: &Question) -> Receipt {
    let mut r = answer(q);
    r.shards.clear();
    r.proof_system = crate::ezkl::ProofSystem::Ezkl;
    r.ezkl = Some(crate::ezkl::EzklProof {
        proof: serde_json::Value::Null,
        settings: serde_json::Value::Null,
        logrows: 15,
        srs_sha256: "dd".repeat(32),
        dataset_hash: EZKL_HASH.into(),
        output_scale: 12,
    });
    r
}

#[test]
fn the_proof_system_is_part_of_the_question() {
    let g = question(100, None);
    let q = g.clone().with_ezkl(EZKL_HASH);
    assert_ne!(q.hash(), g.hash());
    let back = Question::from_json(q.to_json().as_bytes()).unwrap();
    assert_eq!(back, q);
    // A Groth16 question's JSON (and hash) does not name the proof system.
    assert!(!g.to_json().contains("proof_system"));
    assert_eq!(q.check(&ezkl_answer(&q), q.job_nonce()), Ok(()));
    // Each answered with the other's proof.
    assert_eq!(field_of(&q, &answer(&q)), "proof system");
    assert_eq!(field_of(&g, &ezkl_answer(&g)), "proof system");
    // A receipt naming ezkl without its proof.
    let mut r = ezkl_answer(&q);
    r.ezkl = None;
    assert_eq!(field_of(&q, &r), "proof system");
    // Over another ezkl hash of the dataset.
    let mut r = ezkl_answer(&q);
    r.ezkl.as_mut().unwrap().dataset_hash = "11223345".into();
    assert_eq!(field_of(&q, &r), "commitment");
}

#[test]
fn an_ezkl_question_asks_nothing_ezkl_cannot_prove() {
    let base = question(100, None).with_ezkl(EZKL_HASH);
    let mut q = base.clone();
    q.epsilon = Some(1.0);
    let e = Question::from_json(q.to_json().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("noise"), "{e}");
    let mut q = base.clone();
    q.owner.suppress_below_max = 5;
    let e = Question::from_json(q.to_json().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("suppression"), "{e}");
    let mut q = base.clone();
    q.dataset.ezkl_hash = None;
    assert!(Question::from_json(q.to_json().as_bytes()).is_err());
    let mut q = question(100, None);
    q.dataset.ezkl_hash = Some(EZKL_HASH.into());
    assert!(Question::from_json(q.to_json().as_bytes()).is_err());
    // On chain, the question pins its verifier contract's code hash; off
    // chain, or for Groth16, it pins none.
    let code = format!("0x{}", "ab".repeat(32));
    let mut q = base.clone();
    q.chain = Some(pin());
    let e = Question::from_json(q.to_json().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("ezkl_verifier"), "{e}");
    q.ezkl_verifier = Some("0x12".into());
    let e = Question::from_json(q.to_json().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("code hash"), "{e}");
    q.ezkl_verifier = Some(code.clone());
    assert!(Question::from_json(q.to_json().as_bytes()).is_ok());
    q.chain = None;
    assert!(Question::from_json(q.to_json().as_bytes()).is_err());
    let mut q = question(100, None);
    q.chain = Some(pin());
    q.ezkl_verifier = Some(code);
    assert!(Question::from_json(q.to_json().as_bytes()).is_err());
}

#[test]
fn a_ceremony_pin_is_trusted_over_a_public_file_or_one_named() {
    let mut pin = CeremonyPin {
        contribution_hash: "dd".repeat(64),
        vk_sha256: vec![],
        ptau_blake2b: None,
    };
    let e = pin.ptau_trusted(&[]).unwrap_err();
    assert!(e.contains("names no powers-of-tau file"), "{e}");
    let public = crate::ptau::PUBLIC_FILES[8].1;
    pin.ptau_blake2b = Some(public.to_ascii_uppercase());
    assert!(pin
        .ptau_trusted(&[])
        .unwrap()
        .contains("powersOfTau28_hez_final_16"));
    let local = "ab".repeat(64);
    pin.ptau_blake2b = Some(local.clone());
    let e = pin.ptau_trusted(&[public.to_string()]).unwrap_err();
    assert!(e.contains("not a public one") && e.contains(&local), "{e}");
    assert!(pin.ptau_trusted(&[local.to_ascii_uppercase()]).is_ok());
}
