//! The data owner's commands: `init`, `serve`, `dataset`, `researcher`
//! (the researchers the gateway admits).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use zkgate_gateway::admin;
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::store::Store;
use zkgate_gateway::vault::Vault;
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
}

pub fn init(a: InitArgs) -> Result<()> {
    let config = Config {
        listen: a.listen,
        hosts: a.hosts,
        plain_http: a.plain_http,
        ..Config::default()
    };
    let report = admin::init(&a.data_dir, &config, passphrase().as_deref(), &a.profile)?;
    println!("created {}", a.data_dir.display());
    println!(
        "certificate {} (give it to researchers)",
        report.cert_path.display()
    );
    println!("fingerprint SHA-256 {}", report.fingerprint);
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
    let pid = Paths::new(&a.data_dir).pid();
    std::fs::write(&pid, std::process::id().to_string())
        .with_context(|| format!("writing {}", pid.display()))?;
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(zkgate_gateway::serve(gw, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    let _ = std::fs::remove_file(&pid);
    Ok(result?)
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
    /// its commitment).
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
    /// Remove a dataset.
    Remove {
        /// Dataset name.
        name: String,
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
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
            let paths = Paths::new(&data_dir);
            let store = Store::open(&paths.db())?;
            let vault = Vault::open(&paths, passphrase().as_deref())?;
            let meta = admin::import_dataset(&paths, &store, &vault, &file, &name, &schema, price)?;
            println!(
                "imported `{}`: {} rows x {} columns, commitment {}",
                meta.name,
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
            let store = Store::open(&Paths::new(&data_dir).db())?;
            for d in store.datasets()? {
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
            let paths = Paths::new(&data_dir);
            admin::remove_dataset(&paths, &Store::open(&paths.db())?, &name)?;
            println!("removed `{name}`");
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
}

pub fn researcher(cmd: ResearcherCmd) -> Result<()> {
    let ResearcherCmd::Add {
        name,
        org,
        trust,
        address,
        data_dir,
    } = cmd;
    let store = Store::open(&Paths::new(&data_dir).db())?;
    println!(
        "{}",
        admin::add_researcher(&store, &name, &org, trust, address)?
    );
    Ok(())
}
