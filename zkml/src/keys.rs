//! Groth16 keys kept on disk across jobs, by circuit id.
//!
//! A circuit id fixes the model's plan, the dataset's shape, the aggregate
//! and the shard size, so two jobs with the same id have the same circuit
//! and can share keys: the second skips setup. Keys are stored uncompressed
//! (loading a compressed key would recompute every point's y coordinate)
//! and read back without the curve checks: the directory is the owner's own
//! and each file is written atomically with mode 0600. A file that cannot
//! be read is ignored and replaced by a fresh setup; every proof is still
//! verified against its key before it leaves the pipeline. The directory is
//! kept under a size limit by removing the least recently used keys.

use crate::pipeline::KeyCache;
use crate::prove::{verifying_key, ProvingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use zkgate_statement::groth16::VerifyingKey;

/// Keys in a directory, at most `limit_bytes` of them.
#[derive(Clone, Debug)]
pub struct KeyDir {
    dir: PathBuf,
    limit_bytes: u64,
}

impl KeyDir {
    /// Keys under `dir` (created on first write), at most `limit_bytes`.
    pub fn new(dir: impl Into<PathBuf>, limit_bytes: u64) -> KeyDir {
        KeyDir {
            dir: dir.into(),
            limit_bytes,
        }
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        let id = id.trim_start_matches("0x");
        let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| self.dir.join(format!("{id}.pk")))
    }

    /// The file the key of circuit `id` (hex) is kept in, if the id is one
    /// (the gateway serves it to its workers as it is).
    pub fn file(&self, id: &str) -> Option<PathBuf> {
        self.path(id).filter(|p| p.exists())
    }

    /// Keeps a key file's bytes as another gateway wrote them (a worker's
    /// copy); read back with the same checks as any kept key.
    pub fn put_bytes(&self, id: &str, bytes: &[u8]) {
        let Some(path) = self.path(id) else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = path.with_extension(format!("tmp{:016x}", rand::random::<u64>()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write().and_then(|()| self.evict(&path)) {
            eprintln!("zkgate: keeping the keys of circuit {id}: {e}");
        }
    }

    fn write(&self, path: &Path, pk: &ProvingKey) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // A name of its own, so that two workers keying the same circuit
        // never write into one file.
        let tmp = path.with_extension(format!("tmp{:016x}", rand::random::<u64>()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp)?;
        let mut out = BufWriter::new(file);
        pk.serialize_uncompressed(&mut out)
            .map_err(std::io::Error::other)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    }

    /// Removes the least recently used keys until the rest fit the limit;
    /// `keep` (the key just written) is never removed.
    fn evict(&self, keep: &Path) -> std::io::Result<()> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if entry.path().extension().is_some_and(|e| e == "pk") {
                files.push((meta.modified()?, meta.len(), entry.path()));
            }
        }
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.limit_bytes {
                break;
            }
            if path != keep {
                std::fs::remove_file(&path)?;
                total -= len;
            }
        }
        Ok(())
    }
}

impl KeyCache for KeyDir {
    fn get(&self, id: &str) -> Option<(ProvingKey, VerifyingKey)> {
        let path = self.path(id)?;
        let file = std::fs::File::open(&path).ok()?;
        let pk = ProvingKey::deserialize_uncompressed_unchecked(BufReader::new(&file)).ok()?;
        // Mark it used for the eviction order.
        let _ = file.set_modified(std::time::SystemTime::now());
        let vk = verifying_key(&pk);
        Some((pk, vk))
    }

    fn put(&self, id: &str, pk: &ProvingKey, _vk: &VerifyingKey) {
        if self.limit_bytes == 0 {
            return;
        }
        let Some(path) = self.path(id) else { return };
        if let Err(e) = self.write(&path, pk).and_then(|()| self.evict(&path)) {
            eprintln!("zkgate: keeping the keys of circuit {id}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Bn254;
    use ark_groth16::Groth16;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
    use ark_snark::SNARK;
    use zkgate_circuits::Fr;
    use zkgate_statement::groth16::{to_bytes, vk_sha256};

    struct Square;
    impl ConstraintSynthesizer<Fr> for Square {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            let x = cs.new_witness_variable(|| Ok(Fr::from(3u64)))?;
            let y = cs.new_input_variable(|| Ok(Fr::from(9u64)))?;
            cs.enforce_r1cs_constraint(|| x.into(), || x.into(), || y.into())
        }
    }

    fn keys(seed: u64) -> (ProvingKey, VerifyingKey) {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let (pk, _) = Groth16::<Bn254>::circuit_specific_setup(Square, &mut rng).unwrap();
        let vk = verifying_key(&pk);
        (pk, vk)
    }

    #[test]
    fn keys_come_back_and_old_ones_make_room() {
        let dir = tempfile::tempdir().unwrap();
        let (pk, vk) = keys(1);
        let size = {
            let mut v = Vec::new();
            pk.serialize_uncompressed(&mut v).unwrap();
            v.len() as u64
        };
        // Room for two keys.
        let cache = KeyDir::new(dir.path().join("keys"), 2 * size + size / 2);
        assert!(cache.get("0xaa").is_none());
        cache.put("0xaa", &pk, &vk);
        let (pk2, vk2) = cache.get("0xaa").unwrap();
        assert_eq!(to_bytes(&pk2), to_bytes(&pk));
        assert_eq!(vk_sha256(&vk2), vk_sha256(&vk));
        let (pk_b, vk_b) = keys(2);
        cache.put("0xbb", &pk_b, &vk_b);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Using aa makes bb the least recently used.
        assert!(cache.get("0xaa").is_some());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (pk_c, vk_c) = keys(3);
        cache.put("0xcc", &pk_c, &vk_c);
        assert!(cache.get("0xbb").is_none(), "evicted");
        assert!(cache.get("0xaa").is_some());
        assert!(cache.get("0xcc").is_some());
        // Ids are hex only: nothing outside the directory is read or written.
        assert!(cache.path("../x").is_none());
        cache.put("../evil", &pk, &vk);
        assert!(!dir.path().join("evil.pk").exists());
        // A damaged file is a miss, not an error.
        std::fs::write(dir.path().join("keys/cc.pk"), b"junk").unwrap();
        assert!(cache.get("0xcc").is_none());
        // A limit of zero keeps nothing.
        let off = KeyDir::new(dir.path().join("off"), 0);
        off.put("0xaa", &pk, &vk);
        assert!(off.get("0xaa").is_none());
    }
}
