//! The README's by-hand flow, run as a new owner would type it.

use crate::common::bin;
use std::path::Path;
use std::process::Command;

/// The shell block after `marker` in the README, its continuation lines
/// joined and its comments dropped: one command per line.
fn block_after(readme: &str, marker: &str) -> Vec<String> {
    let after = readme
        .split(marker)
        .nth(1)
        .expect("the README has the block");
    let block = after
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block follows");
    let mut lines = Vec::new();
    let mut cur = String::new();
    for line in block.lines() {
        let code = match line.find("   #") {
            Some(at) => &line[..at],
            None => line,
        }
        .trim_end();
        match code.strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(code);
                lines.push(cur.split_whitespace().collect::<Vec<_>>().join(" "));
                cur.clear();
            }
        }
    }
    lines.into_iter().filter(|l| !l.is_empty()).collect()
}

/// The by-hand block under "The main job in one command", as written: the
/// only changes are the binary's path for `zkgate`, a free port for 8443,
/// `TOKEN` read from what `researcher add` printed (as the README says),
/// and a wait for the gateway to serve after `serve &` (a person waits
/// for its "listening" line).
#[test]
fn the_readme_by_hand_flow_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = block_after(&readme, "The same by hand:");
    assert!(commands.len() >= 10, "{commands:?}");
    let port = crate::common::free_port().to_string();
    let mut script =
        String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n");
    for c in &commands {
        let c = c
            .replace("8443", &port)
            .replace("--token TOKEN", "--token \"$TOKEN\"");
        let c = match c.strip_prefix("zkgate ") {
            Some(rest) => format!("{} {rest}", bin()),
            None => panic!("a command that is not zkgate's: {c}"),
        };
        if c.contains(" researcher add ") {
            script += &format!("TOKEN=$({c})\n");
        } else {
            script += &c;
            script += "\n";
        }
        if c.contains(" serve ") && c.ends_with('&') {
            script += "for i in $(seq 600); do [ -f gw/serving.json ] && break; sleep 0.1; done\n";
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        root.join("fixtures").canonicalize().unwrap(),
        tmp.path().join("fixtures"),
    )
    .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{script}\n{stdout}\n{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(stdout.contains("\"settled\""), "{stdout}");
    assert!(tmp.path().join("receipt.json").exists());
}
