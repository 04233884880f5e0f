//! The committed contract artifact is what the pinned solc-js makes of the
//! source (`node contracts/compile.js --check`; `npm ci --prefix contracts`
//! installs the compiler).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn committed_artifact_matches_the_source() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts");
    assert!(
        dir.join("node_modules/solc").exists(),
        "solc-js is not installed: run `npm ci --prefix contracts`"
    );
    let out = Command::new("node")
        .arg(dir.join("compile.js"))
        .arg("--check")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
