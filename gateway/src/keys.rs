//! Kept proving keys, paced per researcher.
//!
//! A circuit's keys are made once and kept by circuit id, and the circuit
//! follows from public facts (model, schema, rows, question), so a
//! researcher who submits a model could tell from the setup step's length
//! whether anyone else had asked the same question of the same dataset
//! before. [`PacedKeys`] keeps the work shared and the time private: a
//! researcher's first use of a key another researcher's job made waits as
//! long as making it took (no CPU), and only their later jobs on it are
//! fast, as if their own first job had made it.

use crate::store::Store;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zkgate_statement::groth16::VerifyingKey;
use zkgate_zkml::keys::KeyDir;
use zkgate_zkml::pipeline::KeyCache;
use zkgate_zkml::prove::ProvingKey;

/// The gateway's key cache for one job of `researcher`.
pub struct PacedKeys<'a> {
    /// Where keys are kept.
    pub dir: &'a KeyDir,
    /// Where their uses are recorded.
    pub store: &'a Store,
    /// Whose job asks.
    pub researcher: &'a str,
    /// When the last miss was answered (the setup that follows is timed
    /// from it to `put`).
    missed: Mutex<Option<Instant>>,
}

impl<'a> PacedKeys<'a> {
    /// The cache for a job of `researcher`.
    pub fn new(dir: &'a KeyDir, store: &'a Store, researcher: &'a str) -> Self {
        PacedKeys {
            dir,
            store,
            researcher,
            missed: Mutex::new(None),
        }
    }
}

impl KeyCache for PacedKeys<'_> {
    fn get(&self, id: &str) -> Option<(ProvingKey, VerifyingKey)> {
        let t = Instant::now();
        let Some(k) = self.dir.get(id) else {
            *self.missed.lock().expect("pace") = Some(t);
            return None;
        };
        let uses = self.store.key_uses(id).ok().flatten();
        let theirs = uses
            .as_ref()
            .is_some_and(|u| !u.researchers.iter().any(|r| r == self.researcher));
        if let (true, Some(u)) = (theirs, uses) {
            // Another researcher's job made it: as long as making it took.
            let wait = Duration::from_secs_f64(u.setup_s.max(0.0));
            std::thread::sleep(wait.saturating_sub(t.elapsed()));
        }
        let _ = self.store.key_used(id, self.researcher, None);
        Some(k)
    }

    fn put(&self, id: &str, pk: &ProvingKey, vk: &VerifyingKey) {
        self.dir.put(id, pk, vk);
        let took = self
            .missed
            .lock()
            .expect("pace")
            .take()
            .map(|t| t.elapsed().as_secs_f64());
        let _ = self.store.key_used(id, self.researcher, took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A researcher's goal: whether another researcher asked the same
    /// question of the dataset, from how long setup takes (a kept key is
    /// fast). A key bob's job made is paced for alice's first job on it
    /// (at least its recorded setup time), not for her second, nor for
    /// bob's.
    #[test]
    fn red_team_key_cache_timing_is_paced() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("db")).unwrap();
        let dir = KeyDir::new(tmp.path().join("keys"), 1 << 30);
        // A small circuit: the linear model's mean over two rows.
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let imported = zkgate_zkml::import::load_bytes(
            &std::fs::read(fixtures.join("models/linreg.onnx")).unwrap(),
        )
        .unwrap();
        let schema =
            zkgate_zkml::dataset::declared_schema(&fixtures.join("data/tabular.csv")).unwrap();
        let mut manifest = crate::store::tests::job("x").manifest;
        manifest.aggregate = zkgate_statement::Aggregate::Mean;
        manifest.columns = Some((0..13).map(|i| format!("f{i}")).collect());
        let spec = zkgate_zkml::job::compile_public(
            &imported.model,
            &imported.onnx_sha256,
            &schema,
            2,
            &crate::runner::request_of(&manifest),
        )
        .unwrap();
        let (pk, vk) = zkgate_zkml::prove::setup(&spec, &mut rand::rngs::OsRng).unwrap();
        let id = "0xabc";

        let bob = PacedKeys::new(&dir, &store, "bob");
        assert!(bob.get(id).is_none());
        // Its setup, as long as a real one's.
        std::thread::sleep(Duration::from_secs(1));
        bob.put(id, &pk, &vk);
        let made = store.key_uses(id).unwrap().unwrap();
        assert!(made.setup_s >= 1.0, "{made:?}");
        assert_eq!(made.researchers, ["bob"]);

        let timed = |who: &str| {
            let c = PacedKeys::new(&dir, &store, who);
            let t = Instant::now();
            let k = c.get(id).expect("kept");
            assert_eq!(k.1, vk);
            t.elapsed().as_secs_f64()
        };
        assert!(
            timed("alice") >= made.setup_s,
            "paced for alice's first job"
        );
        assert!(timed("alice") < made.setup_s, "not for her second");
        assert!(timed("bob") < made.setup_s, "nor for bob's");
        assert_eq!(
            store.key_uses(id).unwrap().unwrap().researchers,
            ["bob", "alice"]
        );
    }
}
