//! The small-cell suppression threshold on chain: a public input, the
//! first value, held by the contract to the bound the job pins.

use crate::common::{self, assert_reverts, ether, Market};
use alloy_primitives::{B256, U256};
use rand::SeedableRng;
use zkgate_chain::settlement::{self, receipt_circuits, Bundle};
use zkgate_statement::Aggregate;
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, Gate, LocalJob, Outcome};
use zkgate_zkml::Fr;

#[tokio::test(flavor = "current_thread")]
async fn the_contract_holds_the_released_threshold_to_the_pinned_bound() {
    let (dataset, model) = common::breast_cancer(12);
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
    let commitment = dataset.commitment(&secret);
    let Market {
        s,
        owner,
        researcher,
        chain_id,
        dataset: ds,
        deadline,
    } = common::market(dir.path(), commitment, dataset.rows() as u64).await;

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
