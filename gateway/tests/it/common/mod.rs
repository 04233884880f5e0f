//! What the gateway's tests share: the fixtures and a dataset's first rows.

#![allow(dead_code)]

use std::path::Path;

pub use zkgate_testkit::{fixture, head, wait_end};

/// Initializes a data dir at `root` with `config` under a policy that
/// permits everything (these tests are about the gateway's mechanics; the
/// shipped profiles are tested in tests/policy.rs).
pub fn init_permissive(root: &Path, config: &zkgate_gateway::config::Config) {
    zkgate_gateway::owner::setup::init(root, config, None, "open").unwrap();
    std::fs::write(
        root.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
}

/// A configuration proving in shards of `rows` rows.
pub fn sharded(rows: u64) -> zkgate_gateway::config::Config {
    zkgate_gateway::config::Config {
        limits: zkgate_gateway::config::Limits {
            shard_rows: rows,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The rule every test policy starts from, and a hold rule on top of it:
/// jobs of researchers below trust 2 wait for the owner (`reason`, if
/// any, is the rule's `@reason`).
pub fn hold_below_trust_2(id: &str, reason: Option<&str>) -> String {
    let reason = reason
        .map(|r| format!("@reason(\"{r}\")\n"))
        .unwrap_or_default();
    format!(
        "@id(\"everything\")\npermit (principal, action, resource);\n\
         @id(\"{id}\")\n{reason}@on_deny(\"hold\")\n\
         forbid (principal, action == Zkgate::Action::\"submit\", resource) when {{ principal.trust < 2 }};\n"
    )
}

/// A gateway serving on a free loopback port.
pub struct Serving {
    /// `https://127.0.0.1:PORT` (`http://` when the config says plain HTTP).
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<zkgate_gateway::Result<()>>,
}

impl Serving {
    /// Serves `gw` until [`Serving::stop`].
    pub fn start(gw: std::sync::Arc<zkgate_gateway::Gateway>) -> Serving {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if gw.config.plain_http {
            "http"
        } else {
            "https"
        };
        let base = format!("{scheme}://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(zkgate_gateway::serve(gw, listener, async {
            let _ = stopped.await;
        }));
        Serving { base, stop, server }
    }

    /// Stops the gateway and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// Imports CSV `file` as dataset `name` against its declared schema.
pub fn import(
    paths: &zkgate_gateway::config::Paths,
    store: &zkgate_gateway::store::Store,
    vault: &zkgate_gateway::vault::Vault,
    file: &Path,
    name: &str,
) {
    let schema = zkgate_zkml::dataset::declared_schema(file).unwrap();
    zkgate_gateway::owner::setup::import_dataset(paths, store, vault, file, name, &schema, 0)
        .unwrap();
}

/// A job on `dataset` with the default columns.
pub fn manifest(
    dataset: &str,
    aggregate: zkgate_statement::Aggregate,
) -> zkgate_gateway::store::Manifest {
    zkgate_gateway::store::Manifest {
        dataset: dataset.into(),
        columns: None,
        aggregate,
        idempotency_key: None,
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}

/// A job over the 13 tabular features (not the target).
pub fn tabular(
    dataset: &str,
    aggregate: zkgate_statement::Aggregate,
) -> zkgate_gateway::store::Manifest {
    let mut m = manifest(dataset, aggregate);
    m.columns = Some((0..13).map(|i| format!("f{i}")).collect());
    m
}
