//! The load run, at the size the figures are quoted for: 20 researchers
//! against one gateway, a burst of submissions each, resubmissions and
//! polling while the worker proves. Every accepted job is stored once and
//! ends, resubmissions repeat their job, and each researcher gets exactly
//! the active-job limit out of their burst (`zkgate_bench::load` checks the
//! books and fails otherwise).

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_researchers_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let figures = zkgate_bench::load::run(dir.path(), &fixtures, 20, 60)
        .await
        .unwrap();
    println!("{figures}");
    assert_eq!(figures["jobs_accepted"], 40);
    assert_eq!(figures["jobs_stored"], 40);
    assert!(figures["requests"].as_u64().unwrap() >= 20 * (5 + 3 * 60));
    // Proofs ran while the researchers polled.
    assert!(
        figures["jobs_proved_during_the_run"].as_u64().unwrap() >= 1,
        "{figures}"
    );
}
