//! The small-cell suppression threshold on chain: a public input, the
//! first value, held by the contract to the bound the job pins.

use crate::common::{self, ether};
use alloy_primitives::{B256, U256};
use rand::SeedableRng;
use std::path::Path;
use zkgate_chain::settlement::{self, receipt_circuits, Bundle};
use zkgate_chain::{Chain, Error, Settlement, Wallet};
use zkgate_statement::Aggregate;
use zkgate_zkml::dataset::{declared_schema, Dataset, Secret};
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, Gate, LocalJob, Outcome};
use zkgate_zkml::Fr;

fn assert_reverts<T: std::fmt::Debug>(r: Result<T, Error>, error: &str) {
    match r {
        Err(Error::Reverted(why)) => assert!(why.contains(error), "expected {error}, got {why}"),
        other => panic!("expected a revert with {error}, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_contract_holds_the_released_threshold_to_the_pinned_bound() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let csv = fixtures.join("data/breast_cancer.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let head: Vec<&str> = text.lines().take(13).collect();
    let dataset =
        Dataset::from_csv_reader(head.join("\n").as_bytes(), &declared_schema(&csv).unwrap())
            .unwrap();
    let model = zkgate_zkml::import::load(fixtures.join("models/breast_cancer.onnx")).unwrap();
    let secret = Secret::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(3));
    let request = JobRequest {
        aggregate: Aggregate::Confusion {
            label: "label".into(),
        },
        input_columns: None,
        quant: Default::default(),
        epsilon: None,
    };
    // The release policy suppresses below one more than the smallest
    // non-zero cell, so a real cell is hidden.
    let gate = |g: &Gate<'_>| {
        let k = g
            .evaluation
            .aggregates
            .iter()
            .filter(|&&c| c > 0)
            .min()
            .unwrap()
            + 1;
        Ok(k as u64)
    };
    let prove = |nonce: Fr| -> Outcome {
        let job = LocalJob {
            gate: Some(&gate),
            ..LocalJob::new(&model, &dataset, &secret, &request, nonce)
        };
        run(
            job,
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
            &mut |_| {},
        )
        .unwrap()
    };

    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::embedded(&dir.path().join("chain/state.json")).unwrap();
    let owner = Wallet::dev(0).unwrap();
    let researcher = Wallet::dev(1).unwrap();
    let (s, _) = Settlement::deploy(chain, &owner).await.unwrap();
    let chain_id = s.chain().chain_id().await.unwrap();
    let commitment = dataset.commitment(&secret);
    let rows = dataset.rows() as u64;
    let (ds, _) = s
        .register_dataset(&owner, commitment, rows, B256::repeat_byte(7), ether(1))
        .await
        .unwrap();
    let deadline = s.chain().now().await.unwrap() + 3600;

    // A job per bound: one below the threshold released, one at it.
    for (label, lower) in [(0x31u8, true), (0x32, false)] {
        let q = common::question(label);
        let nonce = settlement::job_nonce(chain_id, s.address(), researcher.address(), q);
        let o = prove(nonce);
        let k = o.receipt.circuit.params.suppress_below;
        assert!(k > 1);
        let mut pins = receipt_circuits(&o.receipt);
        assert_eq!(pins, vec![o.receipt.circuit.id(), Fr::from(k)]);
        if lower {
            pins[1] = Fr::from(k - 1);
        }
        let open = common::open_job(ds, commitment, q, &pins, B256::ZERO, deadline, ether(1));
        let (job, _) = s.open_job(&researcher, &open).await.unwrap();
        let keys: Vec<_> = o.keys.iter().map(|(_, vk)| vk.clone()).collect();
        let bundle = Bundle::for_receipt(&o.receipt, &keys).unwrap();
        if !s.has_verifier(bundle.id()).await.unwrap() {
            s.register_verifier(&owner, &bundle).await.unwrap();
        }
        // One bundle for both jobs (one circuit, one key), listed with its
        // circuit.
        let listed = s.verifiers().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].id, bundle.id());
        assert_eq!(
            listed[0].circuits,
            vec![zkgate_statement::field::fr_to_hex(o.receipt.circuit.id())]
        );
        assert_eq!(listed[0].shard_rows, o.receipt.circuit.shard_rows);
        let shards = settlement::shards(&o.receipt, &bundle).unwrap();
        let values = settlement::values(&o.receipt).unwrap();
        assert_eq!(values[0], U256::from(k), "the threshold is the first value");
        // A lower threshold than the one proved, within the bound, fails
        // the proof.
        let mut other = values.clone();
        other[0] = U256::from(k - 1);
        assert_reverts(
            s.settle_shards(&owner, job, bundle.id(), &pins, other, shards.clone())
                .await,
            "InvalidProof",
        );
        let r = s
            .settle_shards(&owner, job, bundle.id(), &pins, values.clone(), shards)
            .await;
        if lower {
            assert_reverts(r, "BadCircuits");
        } else {
            r.unwrap();
            assert_eq!(s.result(job).await.unwrap(), values);
        }
    }
}
