//! The red-team index in `ARCHITECTURE.md` names a test for every attack:
//! each must exist where it says, so the index cannot rot.

use std::path::Path;

#[test]
fn every_attack_in_the_red_team_index_names_a_test_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## Red team")
        .nth(1)
        .expect("a red-team section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut named = 0;
    for row in section
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(".rs: "))
    {
        let cell = row.trim_end_matches('|').rsplit('|').next().unwrap().trim();
        let (file, test) = cell.trim_matches('`').split_once(": ").unwrap();
        let source =
            std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            source.contains(&format!("fn {test}(")),
            "{file} has no test `{test}`"
        );
        named += 1;
    }
    assert!(named >= 10, "{named} attacks indexed");
}
