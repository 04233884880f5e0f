//! zkgate's gateway: the data owner's HTTPS service. Researchers submit
//! ONNX models with a manifest; jobs are stored durably in sled, proved by a
//! bounded pool of job runners through `zkgate-zkml` over age-encrypted datasets,
//! and only receipts leave.
//!
//! The server is a library: [`serve`] takes an open [`Gateway`], a bound
//! listener and a shutdown future, so tests bind port 0.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod cluster;
pub mod config;
mod console;
pub mod error;
pub mod ezkl;
mod http;
pub mod keys;
pub mod mock;
pub mod owner;
pub mod policy;
pub mod prover;
pub mod question;
pub mod research;
pub mod runner;
pub mod settle;
pub mod store;
pub mod tls;
pub mod vault;

pub use error::{Error, Result};

use config::{Config, Paths};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use store::Store;
use tokio::sync::Notify;
use vault::Vault;

/// Proving-time totals for `/metrics`.
#[derive(Debug, Default)]
pub struct ProvingStats {
    /// Seconds spent proving, over all jobs.
    pub seconds: f64,
    /// Jobs proved.
    pub count: u64,
}

/// The powers-of-tau file the gateway takes ceremony keys over.
#[derive(Clone, Debug)]
pub struct PtauInfo {
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// BLAKE2b-512 of the file, hex (what public files are listed by).
    pub blake2b: String,
    /// Its power.
    pub power: u32,
    /// The public file it is, if it is one.
    pub public: Option<String>,
}

/// An open gateway: configuration, vault, store.
pub struct Gateway {
    /// The data dir's files.
    pub paths: Paths,
    /// The configuration.
    pub config: Config,
    /// Durable state.
    pub store: Store,
    vault: Vault,
    policy: RwLock<Arc<zkgate_policies::Engine>>,
    audit: audit::AuditLog,
    keys: zkgate_zkml::keys::KeyDir,
    wake: Notify,
    stats: Mutex<ProvingStats>,
    /// Held by a submission from reading the jobs to storing its own, so
    /// that two concurrent submissions cannot both pass the active-jobs
    /// limit or both take one on-chain job.
    pub(crate) admission: tokio::sync::Mutex<()>,
    /// The powers-of-tau file's SHA-256 (hex) and power, read once.
    ptau_info: std::sync::OnceLock<PtauInfo>,
    /// Dry runs per researcher today.
    pub(crate) dry_runs: DryRunQuota,
}

/// Dry runs counted per researcher and day (in memory: a restart forgets
/// them, which costs the owner at most one more day's worth).
#[derive(Debug, Default)]
pub(crate) struct DryRunQuota(Mutex<std::collections::HashMap<String, (u64, u32)>>);

impl DryRunQuota {
    /// Counts one dry run of `who` on `day` (days since the epoch) if fewer
    /// than `limit` were counted that day: `Ok(count)`, or `Err(limit)`.
    pub(crate) fn take(&self, who: &str, day: u64, limit: u32) -> std::result::Result<u32, u32> {
        let mut m = self.0.lock().expect("dry-run quota lock");
        let entry = m.entry(who.to_string()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        if entry.1 >= limit {
            return Err(limit);
        }
        entry.1 += 1;
        Ok(entry.1)
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("root", &self.paths.root)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Opens a data dir made by [`owner::setup::init`].
    pub fn open(
        root: impl Into<std::path::PathBuf>,
        passphrase: Option<&str>,
    ) -> Result<Arc<Gateway>> {
        let paths = Paths::new(root);
        let config = Config::load(&paths.config())?;
        if config.cluster.nats.is_some() && config.limits.key_cache_mb == 0 {
            return Err(Error::Config(
                "[cluster] needs limits.key_cache_mb above 0: provers fetch the proving keys the gateway keeps".into(),
            ));
        }
        let vault = Vault::open(&paths, passphrase)?;
        let engine = policy::load(&paths.policy(&config))?;
        let audit = audit::AuditLog::open(&paths.audit())?;
        let store = Store::open(&paths.db())?;
        // After the store, whose opening writes files of its own (files
        // the database makes later sit in directories only the owner can
        // enter).
        owner::setup::lock_down(&paths.root)?;
        let keys = zkgate_zkml::keys::KeyDir::new(
            paths.proving_keys(),
            config.limits.key_cache_mb.saturating_mul(1 << 20),
        );
        Ok(Arc::new(Gateway {
            paths,
            config,
            store,
            vault,
            policy: RwLock::new(Arc::new(engine)),
            audit,
            keys,
            wake: Notify::new(),
            stats: Mutex::new(ProvingStats::default()),
            admission: tokio::sync::Mutex::new(()),
            ptau_info: std::sync::OnceLock::new(),
            dry_runs: DryRunQuota::default(),
        }))
    }

    /// The SHA-256 (hex) and power of the powers-of-tau file `config.toml`
    /// names (`None`: it names none), read once (the file may be large).
    pub fn ptau_info(&self) -> Result<Option<PtauInfo>> {
        let Some(rel) = &self.config.ptau else {
            return Ok(None);
        };
        if let Some(info) = self.ptau_info.get() {
            return Ok(Some(info.clone()));
        }
        let ptau = zkgate_zkml::ceremony::Ptau::read(&self.paths.root.join(rel))?;
        let info = PtauInfo {
            sha256: hex::encode(ptau.sha256),
            blake2b: hex::encode(ptau.blake2b),
            power: ptau.power,
            public: ptau.public_name(),
        };
        Ok(Some(self.ptau_info.get_or_init(|| info).clone()))
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The audit log.
    pub fn audit(&self) -> &audit::AuditLog {
        &self.audit
    }

    /// Proving keys kept across jobs.
    pub fn proving_keys(&self) -> &zkgate_zkml::keys::KeyDir {
        &self.keys
    }
}

/// Where a serving gateway listens (`serving.json` in its data dir, while
/// it serves).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Serving {
    /// The serving process.
    pub pid: u32,
    /// Its API's base URL.
    pub url: String,
}

/// Serves the API on `listener` until `shutdown` completes, with the
/// job runners running in the background. Jobs left unfinished by a previous
/// run (a crash included) are queued again first. On Unix, SIGHUP reloads
/// the policy file (an invalid one is reported and the old policy kept).
pub async fn serve(
    gw: Arc<Gateway>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    runner::recover(&gw)?;
    let hashed = ezkl::publish_hashes(&gw)?;
    if hashed > 0 {
        eprintln!("zkgate: ezkl: published the ezkl hash of {hashed} dataset(s)");
    }
    if let Some(nats) = &gw.config.cluster.nats {
        let provers = gw.store.provers()?;
        eprintln!(
            "zkgate: cluster: shards go through {nats} (prefix `{}`) to {} registered prover(s){}; datasets over {} rows are sharded",
            gw.config.cluster.prefix,
            provers.len(),
            if provers.is_empty() {
                " (none yet: zkgate provers add)".to_string()
            } else {
                format!(
                    ": {}",
                    provers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                )
            },
            gw.config.limits.shard_rows
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runners = runner::spawn(gw.clone(), stopped);
    #[cfg(unix)]
    let reloader = {
        let gw = gw.clone();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| Error::io("SIGHUP handler", e))?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match policy::reload(&gw) {
                    Ok(rules) => eprintln!("zkgate: policy reloaded ({} rules)", rules.len()),
                    Err(e) => eprintln!("zkgate: policy reload rejected, old policy kept: {e}"),
                }
            }
        })
    };
    let app = api::router(gw.clone());
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("listener", e))?;
    // Where the owner's CLI finds this gateway while it serves.
    let serving = Serving {
        pid: std::process::id(),
        url: format!(
            "{}://{}",
            if gw.config.plain_http {
                "http"
            } else {
                "https"
            },
            listener
                .local_addr()
                .map_err(|e| Error::io("listener", e))?
        ),
    };
    vault::write_file(
        &gw.paths.serving(),
        &serde_json::to_vec(&serving).expect("serializes"),
        true,
    )?;
    let result = if gw.config.plain_http {
        let l =
            tokio::net::TcpListener::from_std(listener).map_err(|e| Error::io("listener", e))?;
        axum::serve(l, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::io("server", e))
    } else {
        let tls = tls::server_config(&gw.paths.tls_cert(), &gw.paths.tls_key())?;
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        });
        axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(tls),
        )
        .map_err(|e| Error::io("listener", e))?
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .map_err(|e| Error::io("server", e))
    };
    let _ = std::fs::remove_file(gw.paths.serving());
    let _ = stop.send(true);
    // Aborted, and waited for: the task holds the gateway (and with it the
    // database's lock) until it is dropped.
    #[cfg(unix)]
    {
        reloader.abort();
        let _ = reloader.await;
    }
    for w in runners {
        let _ = w.await;
    }
    result
}
