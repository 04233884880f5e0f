//! Model-family circuits on chain: one key serves two models of an
//! architecture, each job pins its own model's circuit id, and the
//! contract (unchanged) settles each with its own bundle and refuses the
//! other model's proofs.

use crate::common::{self, assert_reverts, ether, Market};
use alloy_primitives::B256;
use rand::SeedableRng;
use std::cell::RefCell;
use zkgate_chain::settlement::{self, receipt_circuits, Bundle};
use zkgate_statement::groth16::VerifyingKey;
use zkgate_statement::Aggregate;
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::ir::Op;
use zkgate_zkml::job::{input_ranges, JobRequest};
use zkgate_zkml::pipeline::{run, KeyCache, LocalJob, Outcome};
use zkgate_zkml::prove::ProvingKey;
use zkgate_zkml::quantize::{fit_family, QuantConfig};
use zkgate_zkml::Fr;

/// One kept key, whatever its id.
#[derive(Default)]
struct Kept(RefCell<Option<(String, ProvingKey, VerifyingKey)>>);

impl KeyCache for Kept {
    fn get(&self, id: &str) -> Option<(ProvingKey, VerifyingKey)> {
        let k = self.0.borrow();
        let (kid, pk, vk) = k.as_ref()?;
        (kid == id).then(|| (pk.clone(), vk.clone()))
    }
    fn put(&self, id: &str, pk: &ProvingKey, vk: &VerifyingKey) {
        *self.0.borrow_mut() = Some((id.to_string(), pk.clone(), vk.clone()));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn two_models_of_a_family_settle_with_one_key_and_not_as_each_other() {
    let (dataset, original) = common::breast_cancer(24);
    // A "retrained" revision: every weight of the first layer scaled.
    let mut revision = original.clone();
    for op in &mut revision.model.ops {
        if let Op::Affine(a) = op {
            a.rows.iter_mut().flatten().for_each(|(_, w)| *w *= 0.85);
            break;
        }
    }
    let inputs = input_ranges(&dataset.schema, &(0..30).collect::<Vec<_>>());
    let family = fit_family(&original.model, &inputs, QuantConfig::default(), 1).unwrap();
    let request = JobRequest {
        aggregate: Aggregate::Accuracy {
            label: "label".into(),
        },
        input_columns: None,
        quant: QuantConfig {
            family: Some(family),
            ..QuantConfig::default()
        },
        epsilon: None,
    };
    let secret = Secret::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(3));
    let kept = Kept::default();
    let prove = |model: &zkgate_zkml::import::Imported, nonce: Fr| -> Outcome {
        // 24 rows in shards of 11: three proofs joined by links.
        let job = LocalJob {
            shard_rows: Some(11),
            keys: Some(&kept),
            ..LocalJob::new(model, &dataset, &secret, &request, nonce)
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

    // A job per model, each pinning its own model's circuit id.
    let mut jobs = Vec::new();
    for (label, model) in [(0x41u8, &original), (0x42, &revision)] {
        let q = common::question(label);
        let nonce = settlement::job_nonce(chain_id, s.address(), researcher.address(), q);
        let o = prove(model, nonce);
        assert_eq!(o.receipt.shards.len(), 3);
        let pins = receipt_circuits(&o.receipt);
        assert_eq!(pins, vec![o.receipt.circuit.id()]);
        let open = common::open_job(ds, commitment, q, &pins, B256::ZERO, deadline, ether(1));
        let (job, _) = s.open_job(&researcher, &open).await.unwrap();
        let keys: Vec<_> = o.keys.iter().map(|(_, vk)| vk.clone()).collect();
        let bundle = Bundle::for_receipt(&o.receipt, &keys).unwrap();
        s.register_verifier(&owner, &bundle).await.unwrap();
        jobs.push((job, pins, o, bundle));
    }
    let [(job_a, pins_a, a, bundle_a), (job_b, pins_b, b, bundle_b)] = &jobs[..] else {
        unreachable!()
    };
    // One key (made for the first model, kept, reused by the second), two
    // circuit ids, so two bundles of the same points.
    assert_eq!(a.keys[0].1, b.keys[0].1);
    assert_ne!(pins_a, pins_b);
    assert_ne!(bundle_a.id(), bundle_b.id());

    // The revision's proofs settle the original's job under neither
    // bundle: the original's runs them as the original's circuit (its id
    // a public input), the revision's is not the job's pinned circuit.
    let shards_b = settlement::shards(&b.receipt, bundle_a).unwrap();
    let values_b = settlement::values(&b.receipt).unwrap();
    assert_reverts(
        s.settle_shards(
            &owner,
            *job_a,
            bundle_a.id(),
            pins_a,
            values_b.clone(),
            shards_b,
        )
        .await,
        "InvalidProof",
    );
    let shards_b = settlement::shards(&b.receipt, bundle_b).unwrap();
    assert_reverts(
        s.settle_shards(
            &owner,
            *job_a,
            bundle_b.id(),
            pins_a,
            values_b.clone(),
            shards_b.clone(),
        )
        .await,
        "CircuitNotPinned",
    );
    // Each job settles with its own model's proofs and bundle.
    s.settle_shards(
        &owner,
        *job_b,
        bundle_b.id(),
        pins_b,
        values_b.clone(),
        shards_b,
    )
    .await
    .unwrap();
    assert_eq!(s.result(*job_b).await.unwrap(), values_b);
    let shards_a = settlement::shards(&a.receipt, bundle_a).unwrap();
    let values_a = settlement::values(&a.receipt).unwrap();
    s.settle_shards(
        &owner,
        *job_a,
        bundle_a.id(),
        pins_a,
        values_a.clone(),
        shards_a,
    )
    .await
    .unwrap();
    assert_eq!(s.result(*job_a).await.unwrap(), values_a);
}
