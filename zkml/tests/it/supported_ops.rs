//! The README's supported-ops table is the importer's own list, and the
//! list is the importer's behaviour: every listed op has a translation,
//! and every op of every fixture model that loads is listed.

use crate::common::fixture;
use zkgate_zkml::import::{self, ops};

#[test]
fn the_readme_table_is_the_importers_list() {
    let readme = std::fs::read_to_string(fixture("../README.md")).unwrap();
    let (start, end) = (
        "<!-- supported-ops:start -->\n",
        "<!-- supported-ops:end -->",
    );
    let from = readme.find(start).expect("start marker") + start.len();
    let to = readme.find(end).expect("end marker");
    let want = ops::markdown();
    assert!(
        readme[from..to] == want,
        "README.md's supported-ops table is stale (python3 scripts/supported-ops-table.py writes it); it should read:\n{want}"
    );
}

#[test]
fn every_listed_op_is_registered_and_every_loaded_op_is_listed() {
    for s in ops::SUPPORTED {
        assert!(
            import::registered(s.op),
            "{} is listed but not registered",
            s.op
        );
    }
    let mut loaded = 0;
    let mut seen = std::collections::BTreeSet::new();
    for dir in ["models", "exports", "attacks", "bad"] {
        let Ok(entries) = std::fs::read_dir(fixture(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "onnx") {
                continue;
            }
            let Ok(m) = import::load(&path) else {
                continue;
            };
            loaded += 1;
            for op in &m.proved_ops {
                assert!(
                    ops::is_supported(op),
                    "{} loads with op {op}, which the table does not list",
                    path.display()
                );
                seen.insert(op.clone());
            }
        }
    }
    assert!(loaded >= 30, "{loaded} fixtures loaded");
    // Ops listed but in no fixture (checked by the importer's unit tests
    // or too plain to need one) are few and named here.
    let untested: Vec<&str> = ops::SUPPORTED
        .iter()
        .map(|s| s.op)
        .filter(|op| !seen.contains(*op))
        .collect();
    println!("listed ops no fixture uses: {untested:?}");
}
