//! The workspace's layering rules that Cargo cannot state per module:
//! only `zkml::import` uses tract, and the crates a verifier links carry
//! neither tract nor a prover.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a Rust file, comments dropped (a doc comment may name
/// tract; only code may not use it).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn only_the_importer_uses_tract() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "{files:?}");
    let mut offenders = Vec::new();
    let mut importer = 0;
    for f in files {
        let uses = code(&std::fs::read_to_string(&f).unwrap()).contains("tract_");
        if f.starts_with(src.join("import")) {
            importer += usize::from(uses);
        } else if uses {
            offenders.push(f);
        }
    }
    assert!(
        offenders.is_empty(),
        "tract used outside zkml::import: {offenders:?}"
    );
    // The scan sees tract where it is used.
    assert!(importer >= 3, "{importer}");
}

#[test]
fn verifier_side_crates_link_no_tract_and_no_prover() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for (krate, banned) in [
        ("statement", &["tract", "ark-groth16", "zkgate-zkml"][..]),
        ("circuits", &["tract", "zkgate-zkml"][..]),
        ("client", &["tract", "zkgate-zkml", "zkgate-gateway"][..]),
        ("policies", &["tract", "zkgate-zkml", "zkgate-gateway"][..]),
    ] {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).unwrap();
        for line in manifest
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
        {
            for b in banned {
                assert!(
                    !line.trim_start().starts_with(b),
                    "{krate}/Cargo.toml depends on {b}: {line}"
                );
            }
        }
    }
}

/// A crate whose library (or binary) is built without a test program
/// (`test = false`, to spare the test command a compile and a link) has no
/// unit test that would then silently never run; and no crate has a doc
/// test, since every library sets `doctest = false`.
#[test]
fn no_test_is_left_out_of_the_test_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let members = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = &members[members.find("members = [").unwrap()..];
    let members = &members[..members.find(']').unwrap()];
    let mut untested = 0;
    for crate_dir in members.split('"').skip(1).step_by(2) {
        let dir = root.join(crate_dir);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let untested_target = manifest.lines().any(|l| l.trim() == "test = false");
        let mut files = Vec::new();
        if dir.join("src").is_dir() {
            rust_files(&dir.join("src"), &mut files);
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !has_doc_test(&text),
                "{} has a doc test, which no test program runs",
                f.display()
            );
            let code = code(&text);
            let tests = code.contains("#[test]") || code.contains("::test]");
            if untested_target && tests {
                panic!(
                    "{} has unit tests but {crate_dir}/Cargo.toml sets test = false",
                    f.display()
                );
            }
        }
        untested += usize::from(untested_target);
    }
    assert!(untested >= 5, "{untested}");
}

/// Whether a doc comment opens a code block that rustdoc would run (a bare
/// fence or a `rust` one).
fn has_doc_test(text: &str) -> bool {
    let mut open = false;
    for l in text.lines().map(str::trim_start) {
        if !(l.starts_with("///") || l.starts_with("//!")) {
            continue;
        }
        if let Some(at) = l.find("```") {
            let lang = l[at + 3..].trim();
            if !open && (lang.is_empty() || lang.starts_with("rust")) {
                return true;
            }
            open = !open;
        }
    }
    false
}
