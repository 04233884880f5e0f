//! What the binary's tests share: the binary, the fixtures, a dataset's
//! first rows.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The `zkgate` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zkgate")
}

/// Runs the binary.
pub fn zkgate(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("runs")
}

/// A fixture's path.
pub fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
        .display()
        .to_string()
}

/// Writes the header and first `rows` rows of fixture `rel` to `out`;
/// returns `out`.
pub fn head(rel: &str, rows: usize, out: &Path) -> String {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    std::fs::write(
        out,
        text.lines().take(rows + 1).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    // The fixture's declared schema goes next to the copy.
    let schema = |p: &Path| p.with_extension("schema.json");
    std::fs::copy(schema(Path::new(&fixture(rel))), schema(out)).unwrap();
    out.display().to_string()
}

/// The breast-cancer classifier's accuracy on dataset `bc`.
pub fn accuracy_on_bc(idempotency_key: Option<&str>) -> zkgate_gateway::store::Manifest {
    zkgate_gateway::store::Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate: zkgate_statement::Aggregate::Accuracy {
            label: "label".into(),
        },
        idempotency_key: idempotency_key.map(str::to_string),
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}

/// Polls job `id` until it ends (done, failed...), failing the test after
/// `limit`; requests that fail (a gateway restarting) are retried.
pub async fn wait_end(
    c: &zkgate_client::Client,
    id: &str,
    limit: std::time::Duration,
) -> zkgate_gateway::store::Job {
    let t = std::time::Instant::now();
    loop {
        if let Ok(Ok(j)) = c.job(id).await {
            if j.state.is_terminal() {
                return j;
            }
        }
        assert!(t.elapsed() < limit, "job {id} did not end in {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
