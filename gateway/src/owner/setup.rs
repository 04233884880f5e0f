//! The data owner's groundwork: create a data dir, import datasets, add
//! researchers, over a store and vault given to them (the running
//! gateway's, through [`crate::owner`], or a stopped one's, opened by the
//! CLI: sled takes an exclusive lock).

use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::store::{now, DatasetMeta, Researcher, Store};
use crate::vault::{write_file, write_secret, Vault};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use zkgate_chain::alloy_primitives::Address;
use zkgate_statement::field::{fr_from_hex, fr_to_hex};
use zkgate_statement::Schema;
use zkgate_zkml::dataset::{Dataset, Secret};

/// What `init` reports.
#[derive(Debug)]
pub struct InitReport {
    /// SHA-256 fingerprint of the TLS certificate.
    pub fingerprint: String,
    /// Where the certificate is (give it to researchers).
    pub cert_path: std::path::PathBuf,
    /// Where the owner's token for the owner API is.
    pub owner_token_path: std::path::PathBuf,
}

/// Creates a data dir: config, vault identity, TLS certificate and key,
/// and the policy file from a shipped profile (`default`, `hospital`,
/// `open`).
pub fn init(
    root: &std::path::Path,
    config: &Config,
    passphrase: Option<&str>,
    profile: &str,
) -> Result<InitReport> {
    let policy = zkgate_policies::profile_source(profile).ok_or_else(|| {
        Error::Config(format!(
            "unknown policy profile `{profile}` (known: {})",
            zkgate_policies::PROFILES.map(|(n, _)| n).join(", ")
        ))
    })?;
    let paths = Paths::new(root);
    if paths.config().exists() {
        return Err(Error::Config(format!(
            "{} already exists",
            paths.config().display()
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    lock_down(root)?;
    Vault::create(&paths, passphrase)?;
    let (cert, key, fingerprint) = crate::tls::self_signed(&config.hosts)?;
    write_file(&paths.tls_cert(), cert.as_bytes(), false)?;
    write_secret(&paths.tls_key(), key.as_bytes())?;
    Store::open(&paths.db())?;
    write_file(&paths.policy(config), policy.as_bytes(), false)?;
    let mut config = config.clone();
    config.owner_token_sha256 = Some(new_owner_token(&paths)?);
    write_file(&paths.config(), config.to_toml().as_bytes(), false)?;
    lock_down(root)?;
    Ok(InitReport {
        fingerprint,
        cert_path: paths.tls_cert(),
        owner_token_path: paths.owner_token(),
    })
}

/// Writes a fresh owner token to `owner.token` (0600; an earlier
/// release's `admin.token` is removed) and returns the hash the
/// configuration keeps.
fn new_owner_token(paths: &Paths) -> Result<String> {
    let token = format!("zkga_{}", hex::encode(rand::random::<[u8; 24]>()));
    write_secret(
        &paths.root.join("owner.token"),
        format!("{token}\n").as_bytes(),
    )?;
    let old = paths.root.join("admin.token");
    if old.exists() {
        std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(token_hash(&token))
}

/// Replaces the owner token of a stopped gateway (a data dir from before
/// the owner API gets its first): the old one stops working when the
/// gateway starts again.
pub fn rotate_owner_token(root: &Path) -> Result<std::path::PathBuf> {
    let paths = Paths::new(root);
    let mut config = Config::load(&paths.config())?;
    config.owner_token_sha256 = Some(new_owner_token(&paths)?);
    write_file(&paths.config(), config.to_toml().as_bytes(), false)?;
    Ok(paths.owner_token())
}

/// Makes the data dir the owner's alone: every directory under it 0700,
/// every file 0600 (the database's files included, which sled creates
/// with the default mode). Run at init and each time the gateway opens.
pub fn lock_down(root: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(p, e))
        };
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            set(&dir, 0o700)?;
            for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let e = e.map_err(|e| Error::io(&dir, e))?;
                let kind = e.file_type().map_err(|err| Error::io(e.path(), err))?;
                if kind.is_dir() {
                    dirs.push(e.path());
                } else if kind.is_file() {
                    set(&e.path(), 0o600)?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    Ok(())
}

/// Hash under which a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Adds a researcher, with the organisation and trust level policies read;
/// returns their bearer token (shown once, stored hashed).
pub fn add_researcher(
    store: &Store,
    name: &str,
    organisation: &str,
    trust: u8,
    address: Option<Address>,
) -> Result<String> {
    check_name(name, "researcher")?;
    if !organisation.is_empty() {
        check_name(organisation, "organisation")?;
    }
    if trust > 3 {
        return Err(Error::BadRequest(format!(
            "trust levels are 0 to 3, not {trust}"
        )));
    }
    if store.researcher_named(name)?.is_some() {
        return Err(Error::Conflict(format!(
            "researcher `{name}` already exists"
        )));
    }
    // Jobs, receipts and budgets are kept by name: a revoked researcher's
    // name given to someone new would hand them the old jobs and results.
    if store.jobs()?.iter().any(|j| j.researcher == name) {
        return Err(Error::Conflict(format!(
            "the name `{name}` belonged to a revoked researcher whose jobs are kept: choose another"
        )));
    }
    if let Some(a) = address {
        if store.researchers()?.iter().any(|r| r.address == Some(a)) {
            return Err(Error::Conflict(format!(
                "address {a} is registered for another researcher"
            )));
        }
    }
    let token = format!("zkg_{}", hex::encode(rand::random::<[u8; 24]>()));
    store.add_researcher(
        &token_hash(&token),
        &Researcher {
            name: name.to_string(),
            organisation: organisation.to_string(),
            trust,
            address,
            created: now(),
        },
    )?;
    Ok(token)
}

pub(crate) fn check_name(name: &str, what: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "{what} names are 1-64 characters of [A-Za-z0-9_-], not `{name}`"
        )))
    }
}

/// What an encrypted dataset file holds.
#[derive(Serialize, Deserialize)]
struct Sealed {
    schema: Schema,
    values: Vec<Vec<i64>>,
    secret: String,
}

/// Imports a CSV against its declared schema: validates (every row inside
/// the declared ranges), quantizes, encrypts to the vault, records the
/// public metadata (the schema, never anything read from the rows). Nothing
/// is written unless everything succeeded, and no plaintext is ever
/// written.
pub fn import_dataset(
    paths: &Paths,
    store: &Store,
    vault: &Vault,
    csv: &std::path::Path,
    name: &str,
    schema: &Schema,
    price: u64,
) -> Result<DatasetMeta> {
    let file = std::fs::File::open(csv).map_err(|e| Error::io(csv, e))?;
    import_reader(paths, store, vault, file, name, schema, price)
}

/// [`import_dataset`] from a reader (an upload held in memory).
pub fn import_reader(
    paths: &Paths,
    store: &Store,
    vault: &Vault,
    csv: impl std::io::Read,
    name: &str,
    schema: &Schema,
    price: u64,
) -> Result<DatasetMeta> {
    check_name(name, "dataset")?;
    if store.dataset(name)?.is_some() {
        return Err(Error::Conflict(format!("dataset `{name}` already exists")));
    }
    let dataset = Dataset::from_csv_reader(csv, schema)?;
    let secret = Secret::random(&mut rand::rngs::OsRng);
    let commitment = dataset.commitment(&secret);
    let sealed = Sealed {
        schema: dataset.schema.clone(),
        values: dataset.values.clone(),
        secret: fr_to_hex(secret.0),
    };
    let ciphertext = vault.encrypt(&serde_json::to_vec(&sealed).expect("serializes"))?;
    let file = paths.datasets().join(format!("{name}.age"));
    write_secret(&file, &ciphertext)?;
    let meta = DatasetMeta {
        name: name.to_string(),
        schema: dataset.schema.clone(),
        rows: dataset.rows() as u64,
        commitment: fr_to_hex(commitment),
        price,
        created: now(),
        shard_rows: None,
        ezkl_hash: None,
    };
    if let Err(e) = store.put_dataset(&meta) {
        let _ = std::fs::remove_file(&file);
        return Err(e);
    }
    Ok(meta)
}

/// Decrypts a dataset into memory.
pub fn load_dataset(paths: &Paths, vault: &Vault, name: &str) -> Result<(Dataset, Secret)> {
    let file = paths.datasets().join(format!("{name}.age"));
    let ciphertext = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let sealed: Sealed = serde_json::from_slice(&vault.decrypt(&ciphertext)?)
        .map_err(|e| Error::Vault(format!("dataset `{name}`: {e}")))?;
    let secret = Secret(fr_from_hex(&sealed.secret)?);
    Ok((
        Dataset {
            schema: sealed.schema,
            values: sealed.values,
        },
        secret,
    ))
}

/// Removes a dataset (ciphertext and metadata).
pub fn remove_dataset(paths: &Paths, store: &Store, name: &str) -> Result<()> {
    check_name(name, "dataset")?;
    if !store.remove_dataset(name)? {
        return Err(Error::NotFound(format!("dataset `{name}`")));
    }
    let file = paths.datasets().join(format!("{name}.age"));
    std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))
}

/// A dataset's published metadata, read from a stopped gateway's store
/// (`None`: no such dataset).
pub fn published_dataset(paths: &Paths, name: &str) -> Result<Option<DatasetMeta>> {
    Store::open(&paths.db())?.dataset(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir an earlier release made keeps its `admin.token` until
    /// the token is rotated, which writes `owner.token` and removes it.
    #[test]
    fn an_earlier_releases_token_file_is_read_until_rotated() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("gw");
        init(&root, &Config::default(), None, "open").unwrap();
        let paths = Paths::new(&root);
        assert_eq!(paths.owner_token(), root.join("owner.token"));
        std::fs::rename(root.join("owner.token"), root.join("admin.token")).unwrap();
        assert_eq!(paths.owner_token(), root.join("admin.token"));
        let new = rotate_owner_token(&root).unwrap();
        assert_eq!(new, root.join("owner.token"));
        assert!(!root.join("admin.token").exists());
        let token = std::fs::read_to_string(&new).unwrap();
        let config = Config::load(&paths.config()).unwrap();
        assert_eq!(
            config.owner_token_sha256.as_deref(),
            Some(token_hash(token.trim()).as_str())
        );
    }
}
