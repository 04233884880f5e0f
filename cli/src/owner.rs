//! The data owner's commands: `init`, `serve`, `dataset`, `researcher`,
//! `jobs`, `owner-token`. While the gateway serves they go through its
//! owner API (`serving.json` says where, `owner.token` is the credential,
//! the data dir's certificate the CA); while it is stopped they open the
//! data dir. Either way the same library calls do the work and audit it.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zkgate_client::{Answer, Client};
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::{self as ops, Verdict};
use zkgate_gateway::store::{DatasetMeta, Job, Researcher};
use zkgate_gateway::{cluster, owner::setup, Gateway, Serving};
use zkgate_zkml::dataset::DEFAULT_VALUE_BITS;

const PASSPHRASE_ENV: &str = "ZKGATE_VAULT_PASSPHRASE";

fn passphrase() -> Option<String> {
    std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty())
}

/// `zkgate init`.
#[derive(Args)]
pub struct InitArgs {
    /// Data dir to create.
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// Host names for the TLS certificate.
    #[arg(long, value_delimiter = ',', default_value = "localhost,127.0.0.1")]
    hosts: Vec<String>,
    /// Serve plain HTTP (testing only).
    #[arg(long)]
    plain_http: bool,
    /// Policy profile written to policy.cedar: default, hospital or open
    /// (see `zkgate policy profile NAME`).
    #[arg(long, default_value = "default")]
    profile: String,
    /// Rows per proof (`limits.shard_rows`; 0: always one proof): a
    /// larger dataset is proved in shards of this size, by one circuit
    /// whose key a researcher's ceremony makes.
    #[arg(long)]
    shard_rows: Option<u64>,
    /// The powers-of-tau file researchers' ceremony keys are made over
    /// (`ptau`), relative to the data dir (`zkgate ceremony local-ptau` or
    /// a public file, put there).
    #[arg(long)]
    ptau: Option<String>,
}

pub fn init(a: InitArgs) -> Result<()> {
    let mut config = Config {
        listen: a.listen,
        hosts: a.hosts,
        plain_http: a.plain_http,
        ptau: a.ptau,
        ..Config::default()
    };
    if let Some(rows) = a.shard_rows {
        config.limits.shard_rows = rows;
    }
    let report = setup::init(&a.data_dir, &config, passphrase().as_deref(), &a.profile)?;
    println!("created {}", a.data_dir.display());
    println!(
        "certificate {} (give it to researchers)",
        report.cert_path.display()
    );
    println!("fingerprint SHA-256 {}", report.fingerprint);
    println!(
        "owner token {} (the owner API and the console's owner view; keep it secret)",
        report.owner_token_path.display()
    );
    println!(
        "policy {} (profile `{}`)",
        Paths::new(&a.data_dir).policy(&config).display(),
        a.profile
    );
    if passphrase().is_some() {
        println!("vault identity is protected by ${PASSPHRASE_ENV}");
    }
    Ok(())
}

/// `zkgate serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Data dir.
    #[arg(long)]
    data_dir: PathBuf,
    /// Override the configured listen address.
    #[arg(long)]
    listen: Option<String>,
}

pub fn serve(a: ServeArgs) -> Result<()> {
    let gw = zkgate_gateway::Gateway::open(&a.data_dir, passphrase().as_deref())?;
    let addr = a.listen.unwrap_or_else(|| gw.config.listen.clone());
    let listener = std::net::TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    let scheme = if gw.config.plain_http {
        "http"
    } else {
        "https"
    };
    println!(
        "zkgate gateway listening on {scheme}://{}",
        listener.local_addr()?
    );
    println!("console {scheme}://{}/console", listener.local_addr()?);
    let pid = Paths::new(&a.data_dir).pid();
    std::fs::write(&pid, std::process::id().to_string())
        .with_context(|| format!("writing {}", pid.display()))?;
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        // Ctrl-C or SIGTERM (a service manager's stop) end it the same
        // way: in-flight requests finish, `serving.json` is removed, and an
        // unfinished job is picked up again at the next start.
        let stop = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => tokio::select! {
                        _ = tokio::signal::ctrl_c() => "interrupt",
                        _ = term.recv() => "SIGTERM",
                    },
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        "interrupt"
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
                "interrupt"
            }
        };
        zkgate_gateway::serve(gw, listener, async move {
            let why = stop.await;
            eprintln!("zkgate: {why}: stopping (jobs left unfinished resume at the next start)");
        })
        .await
    });
    let _ = std::fs::remove_file(&pid);
    Ok(result?)
}

/// Where the owner's commands go: the serving gateway's owner API, or a
/// stopped gateway's data dir.
enum Target {
    Api {
        client: Client,
        rt: tokio::runtime::Runtime,
    },
    Local(Arc<Gateway>),
}

/// Whether process `pid` is alive.
fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Target {
    fn open(data_dir: &Path) -> Result<Target> {
        let paths = Paths::new(data_dir);
        let serving: Option<Serving> = std::fs::read(paths.serving())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|s: &Serving| alive(s.pid));
        let Some(serving) = serving else {
            let gw = Gateway::open(data_dir, passphrase().as_deref()).with_context(|| {
                format!(
                    "opening {} (a gateway serving it is found by its serving.json)",
                    data_dir.display()
                )
            })?;
            return Ok(Target::Local(gw));
        };
        let token = std::fs::read_to_string(paths.owner_token()).with_context(|| {
            format!(
                "the gateway serves {} (pid {}), but {} cannot be read: stop it and run `zkgate owner-token --data-dir {}`",
                serving.url,
                serving.pid,
                paths.owner_token().display(),
                data_dir.display()
            )
        })?;
        let ca = std::fs::read(paths.tls_cert()).ok();
        let client = Client::new(&serving.url, token.trim(), ca.as_deref())?;
        Ok(Target::Api {
            client,
            rt: tokio::runtime::Runtime::new()?,
        })
    }

    fn call<T>(&self, a: impl std::future::Future<Output = Answer<T>>) -> Result<T> {
        let Target::Api { rt, .. } = self else {
            unreachable!("API calls are made on the API target")
        };
        match rt.block_on(a)? {
            Ok(v) => Ok(v),
            Err(e) => bail!("gateway: {e}"),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        match self {
            Target::Api { client, .. } => self.call(client.get_json(path)),
            Target::Local(_) => unreachable!("local reads call the library"),
        }
    }

    fn datasets(&self) -> Result<Vec<DatasetMeta>> {
        match self {
            Target::Api { .. } => self.get("/v1/owner/datasets"),
            Target::Local(gw) => Ok(gw.store.datasets()?),
        }
    }

    fn researchers(&self) -> Result<Vec<Researcher>> {
        match self {
            Target::Api { .. } => self.get("/v1/owner/researchers"),
            Target::Local(gw) => Ok(ops::researchers(gw)?),
        }
    }

    fn jobs(&self) -> Result<Vec<Job>> {
        match self {
            Target::Api { .. } => self.get("/v1/owner/jobs"),
            Target::Local(gw) => Ok(ops::jobs(gw)?),
        }
    }

    fn review(&self, id: &str, verdict: Verdict, note: &str) -> Result<Job> {
        match self {
            Target::Api { client, .. } => {
                let what = match verdict {
                    Verdict::Approve => "approve",
                    Verdict::Deny => "deny",
                };
                self.call(client.post_json(
                    &format!("/v1/owner/jobs/{id}/{what}"),
                    &serde_json::json!({ "note": note }),
                ))
            }
            Target::Local(gw) => Ok(ops::review(gw, id, verdict, note)?),
        }
    }

    /// A token made for a new researcher or prover: through the API's
    /// `path` with `body`, or by `local` on the data dir.
    fn issue(
        &self,
        path: &str,
        body: serde_json::Value,
        local: impl FnOnce(&Gateway) -> zkgate_gateway::Result<String>,
    ) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Issued {
            token: String,
        }
        match self {
            Target::Api { client, .. } => {
                let i: Issued = self.call(client.post_json(path, &body))?;
                Ok(i.token)
            }
            Target::Local(gw) => Ok(local(gw)?),
        }
    }

    /// Removes what `path` names through the API, or by `local`.
    fn remove(
        &self,
        path: &str,
        local: impl FnOnce(&Gateway) -> zkgate_gateway::Result<()>,
    ) -> Result<()> {
        match self {
            Target::Api { client, .. } => {
                self.call(client.delete_json::<serde_json::Value>(path))?;
                Ok(())
            }
            Target::Local(gw) => Ok(local(gw)?),
        }
    }

    /// Where the commands went, for the owner to see.
    fn describe(&self) -> &'static str {
        match self {
            Target::Api { .. } => "the serving gateway",
            Target::Local(_) => "the data dir (gateway stopped)",
        }
    }
}

/// `zkgate dataset`.
#[derive(Subcommand)]
pub enum DatasetCmd {
    /// Propose a schema for a CSV (types, ranges widened to one
    /// significant digit, scales), for the owner to review and edit before
    /// importing: `zkgate dataset schema data.csv > data.schema.json`.
    Schema {
        /// The CSV.
        file: PathBuf,
        /// Bits per stored value.
        #[arg(long, default_value_t = DEFAULT_VALUE_BITS)]
        value_bits: usize,
    },
    /// Import a CSV against its declared schema (encrypted at rest; prints
    /// its commitment). Through the owner API while the gateway serves.
    Import {
        /// The CSV.
        file: PathBuf,
        /// Dataset name.
        #[arg(long)]
        name: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The declared schema (default: `NAME.schema.json` next to the
        /// CSV). Rows outside its ranges are refused.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Price per job (wei).
        #[arg(long, default_value_t = 0)]
        price: u64,
    },
    /// List datasets.
    List {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Remove a dataset (refused while a job that is not finished reads
    /// it).
    Remove {
        /// Dataset name.
        name: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Download a dataset's mock twin from a gateway (researchers): the
    /// declared schema's columns, synthetic rows drawn from the declared
    /// ranges, never from the data. Try a model on it with `zkgate prove`.
    Mock {
        /// Dataset name.
        name: String,
        #[command(flatten)]
        remote: crate::researcher::Remote,
        /// Where to write the CSV (default: NAME.mock.csv), with its
        /// schema next to it (NAME.mock.schema.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn dataset(cmd: DatasetCmd) -> Result<()> {
    match cmd {
        DatasetCmd::Import {
            file,
            name,
            data_dir,
            schema,
            price,
        } => {
            let schema = crate::declared_schema(&file, schema.as_deref())?;
            let csv =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let target = Target::open(&data_dir)?;
            let meta = match &target {
                Target::Api { client, .. } => {
                    target.call(client.import_dataset(&name, &schema, csv, price))?
                }
                Target::Local(gw) => ops::import_dataset(gw, &name, &schema, &csv, price)?,
            };
            println!(
                "imported `{}` into {}: {} rows x {} columns, commitment {}",
                meta.name,
                target.describe(),
                meta.rows,
                meta.schema.columns.len(),
                meta.commitment
            );
        }
        DatasetCmd::Schema { file, value_bits } => {
            let schema = zkgate_zkml::dataset::Dataset::infer_schema_path(&file, value_bits)
                .with_context(|| format!("reading {}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&schema)?);
            eprintln!(
                "review the ranges (rows outside them are refused at import, and they are public), then save as {}",
                zkgate_zkml::dataset::schema_path(&file).display()
            );
        }
        DatasetCmd::List { data_dir } => {
            for d in Target::open(&data_dir)?.datasets()? {
                println!(
                    "{}\t{} rows\t{} columns\t{}",
                    d.name,
                    d.rows,
                    d.schema.columns.len(),
                    d.commitment
                );
            }
        }
        DatasetCmd::Remove { name, data_dir } => {
            Target::open(&data_dir)?.remove(&format!("/v1/owner/datasets/{name}"), |gw| {
                ops::remove_dataset(gw, &name)
            })?;
            println!("removed `{name}`");
        }
        DatasetCmd::Mock { name, remote, out } => {
            let client = remote.client()?;
            let rt = tokio::runtime::Runtime::new()?;
            let (csv, datasets) = rt.block_on(async {
                let csv = crate::researcher::ok(client.mock(&name).await)?;
                let datasets = crate::researcher::ok(client.datasets().await)?;
                anyhow::Ok((csv, datasets))
            })?;
            let meta = datasets
                .into_iter()
                .find(|d| d.name == name)
                .with_context(|| format!("dataset `{name}` is not in the catalogue"))?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{name}.mock.csv")));
            std::fs::write(&out, &csv).with_context(|| format!("writing {}", out.display()))?;
            let schema_out = zkgate_zkml::dataset::schema_path(&out);
            std::fs::write(&schema_out, serde_json::to_vec_pretty(&meta.schema)?)
                .with_context(|| format!("writing {}", schema_out.display()))?;
            println!(
                "wrote {} ({} synthetic rows of `{name}`'s declared schema; the dataset has {}) and {}",
                out.display(),
                csv.iter().filter(|b| **b == b'\n').count().saturating_sub(1),
                meta.rows,
                schema_out.display()
            );
        }
    }
    Ok(())
}

/// `zkgate researcher`.
#[derive(Subcommand)]
pub enum ResearcherCmd {
    /// Add a researcher; prints their token once.
    Add {
        /// Name.
        name: String,
        /// Organisation (policies can grant access by organisation).
        #[arg(long, default_value = "")]
        org: String,
        /// Trust level 0-3 (policies can require a minimum).
        #[arg(long, default_value_t = 0)]
        trust: u8,
        /// The Ethereum address that opens their on-chain jobs (they can
        /// also register it themselves: `zkgate register-address`).
        #[arg(long)]
        address: Option<zkgate_chain::alloy_primitives::Address>,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Revoke a researcher: their token stops working on their next
    /// request, their jobs not yet started are cancelled.
    Revoke {
        /// Name.
        name: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// List researchers.
    List {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

pub fn researcher(cmd: ResearcherCmd) -> Result<()> {
    match cmd {
        ResearcherCmd::Add {
            name,
            org,
            trust,
            address,
            data_dir,
        } => {
            let token = Target::open(&data_dir)?.issue(
                "/v1/owner/researchers",
                serde_json::json!({
                    "name": name, "organisation": org, "trust": trust, "address": address,
                }),
                |gw| ops::add_researcher(gw, &name, &org, trust, address),
            )?;
            println!("{token}");
        }
        ResearcherCmd::Revoke { name, data_dir } => {
            let target = Target::open(&data_dir)?;
            let cancelled = match &target {
                Target::Api { client, .. } => {
                    #[derive(serde::Deserialize)]
                    struct Revoked {
                        cancelled: Vec<String>,
                    }
                    let r: Revoked = target
                        .call(client.delete_json(&format!("/v1/owner/researchers/{name}")))?;
                    r.cancelled
                }
                Target::Local(gw) => ops::revoke_researcher(gw, &name)?,
            };
            println!(
                "revoked `{name}` in {}; jobs cancelled: {}",
                target.describe(),
                if cancelled.is_empty() {
                    "none".to_string()
                } else {
                    cancelled.join(", ")
                }
            );
        }
        ResearcherCmd::List { data_dir } => {
            for r in Target::open(&data_dir)?.researchers()? {
                println!(
                    "{}\t{}\ttrust {}\t{}",
                    r.name,
                    if r.organisation.is_empty() {
                        "-"
                    } else {
                        &r.organisation
                    },
                    r.trust,
                    r.address.map_or("-".to_string(), |a| a.to_string())
                );
            }
        }
    }
    Ok(())
}

/// `zkgate jobs`.
#[derive(Subcommand)]
pub enum JobsCmd {
    /// Every researcher's jobs, newest first (held ones wait for you).
    List {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// Only jobs in this state (e.g. held).
        #[arg(long)]
        state: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Approve a held job: it is queued, and the rules that held it admit
    /// it from now on.
    Approve {
        /// Job id.
        id: String,
        /// A note the researcher sees.
        #[arg(long, default_value = "")]
        note: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Deny a held job: it fails with your note, and a privacy budget it
    /// spent is given back.
    Deny {
        /// Job id.
        id: String,
        /// A note the researcher sees.
        #[arg(long, default_value = "")]
        note: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

pub fn jobs(cmd: JobsCmd) -> Result<()> {
    match cmd {
        JobsCmd::List {
            data_dir,
            state,
            json,
        } => {
            for j in Target::open(&data_dir)?.jobs()? {
                if state.as_deref().is_some_and(|s| s != j.state.name()) {
                    continue;
                }
                if json {
                    println!("{}", serde_json::to_string(&j)?);
                    continue;
                }
                let why = match (&j.hold, &j.error) {
                    (_, Some(e)) => format!(" {}", e.message),
                    (Some(h), None) if j.state.name() == "held" => format!(" {}", h.message),
                    _ => String::new(),
                };
                let progress = j
                    .progress
                    .as_ref()
                    .filter(|_| !j.state.is_terminal())
                    .map(|p| format!(" [{} shard {}/{}]", p.stage, p.shard, p.shards))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}{progress}{why}",
                    j.id,
                    j.state.name(),
                    j.researcher,
                    j.manifest.dataset,
                    j.manifest.aggregate.name(),
                );
            }
        }
        JobsCmd::Approve { id, note, data_dir } => {
            let j = Target::open(&data_dir)?.review(&id, Verdict::Approve, &note)?;
            println!("approved {}: {}", j.id, j.state.name());
        }
        JobsCmd::Deny { id, note, data_dir } => {
            let j = Target::open(&data_dir)?.review(&id, Verdict::Deny, &note)?;
            println!("denied {}: {}", j.id, j.state.name());
        }
    }
    Ok(())
}

/// Reloads the serving gateway's policy through the owner API; the rules
/// now in force.
pub(crate) fn reload_policy(data_dir: &Path) -> Result<Option<Vec<String>>> {
    let target = Target::open(data_dir)?;
    match &target {
        Target::Api { client, .. } => {
            #[derive(serde::Deserialize)]
            struct Reloaded {
                rules: Vec<String>,
            }
            let r: Reloaded =
                target.call(client.post_json("/v1/owner/policy/reload", &serde_json::json!({})))?;
            Ok(Some(r.rules))
        }
        Target::Local(_) => Ok(None),
    }
}

/// `zkgate owner-token`.
#[derive(Args)]
pub struct OwnerTokenArgs {
    /// Data dir (of a stopped gateway).
    #[arg(long)]
    data_dir: PathBuf,
}

/// Makes a new owner token (the old one stops working).
pub fn owner_token(a: OwnerTokenArgs) -> Result<()> {
    let paths = Paths::new(&a.data_dir);
    if let Some(s) = std::fs::read(paths.serving())
        .ok()
        .and_then(|b| serde_json::from_slice::<Serving>(&b).ok())
        .filter(|s| alive(s.pid))
    {
        bail!(
            "the gateway serves {} (pid {}): stop it first (the token is read when it starts)",
            s.url,
            s.pid
        );
    }
    let path = setup::rotate_owner_token(&a.data_dir)?;
    println!("new owner token in {}", path.display());
    Ok(())
}

/// `zkgate provers`: the proving provers the owner registers.
#[derive(Subcommand)]
pub enum ProversCmd {
    /// Register a prover by its recipient and nkey (`zkgate prover --init`
    /// prints both); prints its token once.
    Add {
        /// Name.
        name: String,
        /// Its age recipient (`age1...`): shard tasks are encrypted to it.
        #[arg(long)]
        recipient: String,
        /// Its nkey (`U...`): its NATS user, and the key its results are
        /// signed with.
        #[arg(long)]
        nkey: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print the NATS server's configuration for the registered provers:
    /// JetStream, one nkey user each for the gateway and every prover,
    /// allowed only its part, and TLS with --tls-cert/--tls-key.
    NatsConfig {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The server's certificate (PEM).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The server's key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A CA the clients' certificates must be signed by (the server
        /// then verifies every client's certificate).
        #[arg(long, requires = "tls_cert")]
        tls_verify_ca: Option<PathBuf>,
    },
    /// List provers.
    List {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Remove a prover: tasks are no longer encrypted to it.
    Remove {
        /// Name.
        name: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

pub fn provers(cmd: ProversCmd) -> Result<()> {
    match cmd {
        ProversCmd::Add {
            name,
            recipient,
            nkey,
            data_dir,
        } => {
            let token = Target::open(&data_dir)?.issue(
                "/v1/owner/provers",
                serde_json::json!({ "name": name, "recipient": recipient, "nkey": nkey }),
                |gw| ops::add_prover(gw, &name, &recipient, &nkey),
            )?;
            println!("{token}");
            eprintln!(
                "prover `{name}` registered; give the NATS server its user: zkgate provers nats-config --data-dir {} > nats.conf, then nats-server --signal reload",
                data_dir.display()
            );
        }
        ProversCmd::List { data_dir } => {
            for w in registered_provers(&data_dir)? {
                println!("{}\t{}\t{}", w.name, w.recipient, w.nkey);
            }
        }
        ProversCmd::NatsConfig {
            data_dir,
            tls_cert,
            tls_key,
            tls_verify_ca,
        } => {
            let provers: Vec<(String, String)> = registered_provers(&data_dir)?
                .into_iter()
                .filter(|w| !w.nkey.is_empty())
                .map(|w| (w.name, w.nkey))
                .collect();
            let config = Config::load(&Paths::new(&data_dir).config())?;
            let gateway = cluster::public_key(&cluster::gateway_seed(&data_dir)?)?;
            let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(cluster::ServerTls {
                    cert: abs(cert),
                    key: abs(key),
                    verify_ca: tls_verify_ca.map(abs),
                }),
                _ => None,
            };
            print!(
                "{}",
                cluster::server_config(&config.cluster, &gateway, &provers, tls.as_ref())
            );
        }
        ProversCmd::Remove { name, data_dir } => {
            Target::open(&data_dir)?.remove(&format!("/v1/owner/provers/{name}"), |gw| {
                ops::remove_prover(gw, &name)
            })?;
            println!("removed prover `{name}`");
        }
    }
    Ok(())
}

fn registered_provers(data_dir: &Path) -> Result<Vec<zkgate_gateway::store::ProverRecord>> {
    let target = Target::open(data_dir)?;
    Ok(match &target {
        Target::Api { .. } => target.get("/v1/owner/provers")?,
        Target::Local(gw) => gw.store.provers()?,
    })
}

/// `zkgate prover`.
#[derive(Args)]
pub struct ProverArgs {
    /// The prover's directory: its age identity (`identity.age`), its nkey
    /// (`nkey.seed`) and the proving keys it keeps (`keys/`).
    #[arg(long)]
    dir: PathBuf,
    /// Make the directory, its identity and its nkey, print the recipient
    /// and the nkey for the owner to register (`zkgate provers add`), and
    /// exit.
    #[arg(long)]
    init: bool,
    /// The NATS server, e.g. tls://10.0.0.2:4222.
    #[arg(long, required_unless_present = "init")]
    nats: Option<String>,
    /// The CA that signed the NATS server's certificate (PEM): TLS
    /// required.
    #[arg(long)]
    nats_ca: Option<PathBuf>,
    /// A client certificate for a server that verifies its clients' (PEM).
    #[arg(long, requires = "nats_key")]
    nats_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, requires = "nats_cert")]
    nats_key: Option<PathBuf>,
    /// The gateway's URL (proving keys are fetched from it).
    #[arg(long, required_unless_present = "init")]
    gateway: Option<String>,
    /// The gateway's CA certificate (PEM).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The prover's token (or $ZKGATE_PROVER_TOKEN).
    #[arg(long, env = "ZKGATE_PROVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Its registered name (it passes on a shard its own proof of was
    /// wrong).
    #[arg(long, required_unless_present = "init")]
    name: Option<String>,
    /// The gateway's `[cluster]` prefix.
    #[arg(long, default_value = "zkgate")]
    prefix: String,
    /// Disk kept for proving keys, MiB.
    #[arg(long, default_value_t = 4096)]
    key_cache_mb: u64,
}

/// Runs a proving prover until interrupted (a shard being proved is
/// finished first).
pub fn prover(a: ProverArgs) -> Result<()> {
    if a.init {
        let (recipient, nkey) = zkgate_gateway::prover::init(&a.dir)?;
        println!("{recipient}");
        println!("{nkey}");
        eprintln!(
            "register it: zkgate provers add NAME --recipient {recipient} --nkey {nkey} --data-dir GATEWAY_DIR"
        );
        return Ok(());
    }
    let (Some(nats), Some(url), Some(name)) = (a.nats, a.gateway, a.name) else {
        bail!("--nats, --gateway and --name are needed");
    };
    let token = match a.token {
        Some(t) => t,
        None => {
            let old = std::env::var("ZKGATE_WORKER_TOKEN")
                .context("the prover's token: --token or $ZKGATE_PROVER_TOKEN")?;
            eprintln!("zkgate: $ZKGATE_WORKER_TOKEN is deprecated, call it $ZKGATE_PROVER_TOKEN");
            old
        }
    };
    let ca = a
        .ca_cert
        .as_ref()
        .map(std::fs::read)
        .transpose()
        .context("reading the CA certificate")?;
    let gateway = Client::new(&url, &token, ca.as_deref())?;
    let cluster = zkgate_gateway::cluster::ClusterConfig {
        nats: Some(nats),
        prefix: a.prefix,
        ca_cert: a.nats_ca,
        client_cert: a.nats_cert,
        client_key: a.nats_key,
        ..Default::default()
    };
    let access = zkgate_gateway::prover::access(&a.dir, &name, &cluster)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(zkgate_gateway::prover::run(
        zkgate_gateway::prover::ProverOptions {
            cluster,
            access,
            gateway,
            name,
            dir: a.dir,
            key_cache_bytes: a.key_cache_mb.saturating_mul(1 << 20),
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(())
}
