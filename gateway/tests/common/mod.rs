//! What the gateway's tests share: the fixtures and a dataset's first rows.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fixture's path.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// Writes the header and first `rows` rows of fixture `rel` to `out`;
/// returns the first data row.
pub fn head(rel: &str, rows: usize, out: &Path) -> String {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    std::fs::write(out, kept.join("\n")).unwrap();
    // The fixture's declared schema goes next to the copy.
    let schema = zkgate_zkml::dataset::schema_path(&fixture(rel));
    std::fs::copy(schema, zkgate_zkml::dataset::schema_path(out)).unwrap();
    kept[1].to_string()
}

/// Initializes a data dir at `root` with `config` under a policy that
/// permits everything (these tests are about the gateway's mechanics; the
/// shipped profiles are tested in tests/policy.rs).
pub fn init_permissive(root: &Path, config: &zkgate_gateway::config::Config) {
    zkgate_gateway::admin::init(root, config, None, "open").unwrap();
    std::fs::write(
        root.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
}
