//! The gateway's configuration file (`config.toml` in the data dir).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Limits enforced on every request and job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest accepted upload (model + manifest), bytes.
    pub max_upload_bytes: usize,
    /// Largest ceremony key (`.zkey`) a submission may carry besides,
    /// bytes: about 800 bytes per constraint of the shard circuit (45 MB
    /// for 55k constraints), read in chunks within this limit.
    pub max_ceremony_key_bytes: usize,
    /// Largest CSV the owner may import through the running gateway's
    /// owner API, bytes (the CLI on a stopped gateway has no limit).
    pub max_dataset_bytes: usize,
    /// Largest circuit a job may compile to.
    pub max_constraints: usize,
    /// Largest peak memory a job may need to prove, MiB (estimated from
    /// its circuit before anything is built: `zkgate_zkml::cost`).
    pub max_memory_mb: u64,
    /// Jobs one researcher may have queued or running at once.
    pub max_active_jobs_per_researcher: usize,
    /// Job runners: jobs proved at once, each on its own thread (a job
    /// in a cluster hands its shards to the registered provers).
    /// `workers` in an earlier release.
    #[serde(alias = "workers")]
    pub job_runners: usize,
    /// Rows per proof: a larger dataset is proved in shards of about this
    /// many rows (0: always one proof).
    pub shard_rows: u64,
    /// Disk kept for proving keys of earlier jobs (same circuit, no setup),
    /// MiB; 0 keeps none.
    pub key_cache_mb: u64,
    /// What a submitted model may ask of the importer (input width,
    /// parameters, ops, tensor sizes), checked before anything of it runs.
    pub model: zkgate_zkml::import::ImportLimits,
    /// Dry runs one researcher may ask for per day (each compiles the
    /// model and writes an audit entry).
    pub max_dry_runs_per_day: u32,
    /// Seconds an on-chain job's deadline must leave beyond the job's
    /// estimated setup and proving (queueing, the settlement transaction),
    /// checked at submission.
    pub settle_margin_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 16 << 20,
            max_ceremony_key_bytes: 1 << 30,
            max_dataset_bytes: 256 << 20,
            max_constraints: 4 << 20,
            max_memory_mb: 16 << 10,
            max_active_jobs_per_researcher: 4,
            job_runners: 1,
            shard_rows: 4096,
            key_cache_mb: 4096,
            model: Default::default(),
            max_dry_runs_per_day: 200,
            settle_margin_s: 120,
        }
    }
}

/// The configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Host names in the TLS certificate.
    pub hosts: Vec<String>,
    /// Serve plain HTTP instead of HTTPS (testing only).
    #[serde(default)]
    pub plain_http: bool,
    /// The policy file (Cedar), relative to the data dir.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// The powers-of-tau file (snarkjs `.ptau`, prepared for phase 2),
    /// relative to the data dir: researchers may submit a ceremony key made
    /// over it, which jobs are then proved with (`GET /v1/ceremony` names
    /// it). None: only keys the gateway makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptau: Option<String>,
    /// SHA-256 (hex) of the owner's bearer token, which the owner API
    /// (`/v1/owner/...`) and the console's owner view take (`init` makes
    /// it and writes it to `owner.token`, which only the owner can read);
    /// None: no owner API. `admin_token_sha256` in an earlier release.
    #[serde(
        default,
        alias = "admin_token_sha256",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner_token_sha256: Option<String>,
    /// SHA-256 (hex) of the bearer token `/metrics` requires; None: the
    /// owner's token (`owner_token_sha256`). Job counts and proving times
    /// tell who is running what, so they are the owner's by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token_sha256: Option<String>,
    /// Serve `/metrics` without a token (an owner's choice, for a scraper
    /// on a private network).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metrics_public: bool,
    /// Shard proving on the owner's other machines over NATS JetStream
    /// (`[cluster] nats = "nats://..."`); absent: in this process.
    #[serde(
        default,
        skip_serializing_if = "crate::cluster::ClusterConfig::is_default"
    )]
    pub cluster: crate::cluster::ClusterConfig,
    /// The differential-privacy budget of each researcher on each dataset:
    /// the total epsilon their noised releases may spend (a job asking for
    /// more than is left is refused before anything runs).
    #[serde(default = "default_privacy_budget")]
    pub privacy_budget: f64,
    /// Other proof systems the gateway offers (`[backends.ezkl]`).
    #[serde(default, skip_serializing_if = "Backends::is_default")]
    pub backends: Backends,
}

/// Other proof systems than Groth16.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backends {
    /// ezkl (halo2, KZG): questions asking `proof_system: ezkl` are proved
    /// with it; absent, they are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ezkl: Option<EzklConfig>,
}

impl Backends {
    fn is_default(&self) -> bool {
        *self == Backends::default()
    }
}

/// `[backends.ezkl]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EzklConfig {
    /// A Python with `ezkl` and `onnx` installed (a venv's `bin/python`;
    /// `bench/peers/requirements.txt` pins the versions).
    pub python: PathBuf,
    /// The directory of KZG SRS files (`kzg{logrows}.srs`), relative to
    /// the data dir or absolute: public ones converted, or local ones
    /// (`zkgate ezkl srs`, insecure).
    pub srs_dir: PathBuf,
    /// Longest an ezkl job may run, seconds (it is stopped past it).
    #[serde(default = "default_ezkl_timeout")]
    pub timeout_s: u64,
    /// Largest address space the ezkl process may map, MiB.
    #[serde(default = "default_ezkl_memory")]
    pub memory_mb: u64,
    /// Largest job ezkl is given, in Groth16 constraints of the same job
    /// (its whole circuit over all rows): ezkl needs about 40 times the
    /// memory (`bench/peers/RESULTS.md`: mlp:256, 193k constraints, 8 GB).
    #[serde(default = "default_ezkl_max_constraints")]
    pub max_constraints: usize,
    /// Largest ezkl circuit proved, as a power of two of its rows (ezkl's
    /// calibration sets it from the graph): ezkl's memory doubles with each
    /// power (`RESULTS.md`: 8 GB at 2^18, 22 GB at 2^19), so 18 on a
    /// 24 GB machine. A larger job is refused with the size it needs.
    #[serde(default = "default_ezkl_max_logrows")]
    pub max_logrows: u32,
    /// The solc-js package (a directory; relative to the data dir or
    /// absolute) that compiles the verifier contract of an ezkl job
    /// settled on chain: the pinned one, `contracts/node_modules/solc`
    /// after `npm ci --prefix contracts`, run by `node`. Without it ezkl
    /// jobs are off chain only.
    #[serde(default)]
    pub solc_js: Option<PathBuf>,
}

fn default_ezkl_timeout() -> u64 {
    3600
}

fn default_ezkl_memory() -> u64 {
    20 << 10
}

fn default_ezkl_max_logrows() -> u32 {
    18
}

fn default_ezkl_max_constraints() -> usize {
    400_000
}

fn default_privacy_budget() -> f64 {
    10.0
}

fn default_policy() -> String {
    "policy.cedar".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
            plain_http: false,
            policy: default_policy(),
            limits: Limits::default(),
            ptau: None,
            owner_token_sha256: None,
            metrics_token_sha256: None,
            metrics_public: false,
            cluster: Default::default(),
            backends: Default::default(),
            privacy_budget: default_privacy_budget(),
        }
    }
}

/// The files of a data dir.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The data dir.
    pub root: PathBuf,
}

impl Paths {
    /// Paths under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Paths { root: root.into() }
    }
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The age identity of the vault.
    pub fn identity(&self) -> PathBuf {
        self.root.join("vault").join("identity.age")
    }
    /// Encrypted datasets.
    pub fn datasets(&self) -> PathBuf {
        self.root.join("datasets")
    }
    /// The TLS certificate (public).
    pub fn tls_cert(&self) -> PathBuf {
        self.root.join("tls").join("cert.pem")
    }
    /// The TLS private key.
    pub fn tls_key(&self) -> PathBuf {
        self.root.join("tls").join("key.pem")
    }
    /// The policy file the configuration names.
    pub fn policy(&self, config: &Config) -> PathBuf {
        self.root.join(&config.policy)
    }
    /// The audit log.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit.log")
    }
    /// The owner's token for the owner API (0600): `owner.token`, or
    /// `admin.token` in a data dir an earlier release made (until the
    /// token is rotated, which writes `owner.token`).
    pub fn owner_token(&self) -> PathBuf {
        let old = self.root.join("admin.token");
        let new = self.root.join("owner.token");
        if !new.exists() && old.exists() {
            old
        } else {
            new
        }
    }
    /// Where the running gateway listens (`zkgate serve` writes it, with
    /// its pid): how the owner's CLI finds it.
    pub fn serving(&self) -> PathBuf {
        self.root.join("serving.json")
    }
    /// The pid of the running gateway (`zkgate serve` writes it).
    pub fn pid(&self) -> PathBuf {
        self.root.join("gateway.pid")
    }
    /// Proving keys kept across jobs, by circuit id.
    pub fn proving_keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    /// The chain configuration (`zkgate chain deploy` writes it).
    pub fn chain_config(&self) -> PathBuf {
        self.root.join(zkgate_chain::config::CONFIG_FILE)
    }

    /// The embedded chain's state.
    pub fn chain_state(&self) -> PathBuf {
        zkgate_chain::config::embedded_state(&self.root)
    }

    /// The sled database.
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }
}

impl Config {
    /// Reads `config.toml`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        for (old, new) in deprecated_keys(&text) {
            eprintln!(
                "zkgate: {}: `{old}` is deprecated, call it `{new}`",
                path.display()
            );
        }
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }
}

/// The keys of an earlier release a configuration still uses, with their
/// names now (they keep working for this release).
pub fn deprecated_keys(text: &str) -> Vec<(&'static str, &'static str)> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if doc.contains_key("admin_token_sha256") {
        found.push(("admin_token_sha256", "owner_token_sha256"));
    }
    if doc
        .get("limits")
        .and_then(|l| l.as_table())
        .is_some_and(|l| l.contains_key("workers"))
    {
        found.push(("limits.workers", "limits.job_runners"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_key_names_still_read_and_are_named() {
        let text = "listen = \"127.0.0.1:0\"\nhosts = []\nadmin_token_sha256 = \"ab\"\n[limits]\nworkers = 3\n";
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c.owner_token_sha256.as_deref(), Some("ab"));
        assert_eq!(c.limits.job_runners, 3);
        assert_eq!(
            deprecated_keys(text),
            [
                ("admin_token_sha256", "owner_token_sha256"),
                ("limits.workers", "limits.job_runners")
            ]
        );
        let now = c.to_toml();
        assert!(now.contains("owner_token_sha256") && now.contains("job_runners"));
        assert!(deprecated_keys(&now).is_empty());
    }
}
