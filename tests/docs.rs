//! The documentation stays true to the code: every built-in scenario is documented, the README
//! fits a first visit, and relative links lead to files that exist.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(doc: &str) -> String {
    std::fs::read_to_string(root().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

/// Every built-in scenario is documented: in the scenario guide's table and, by its Gymnasium
/// id, in the Python guide.
#[test]
fn every_built_in_scenario_is_in_the_docs() {
    let (guide, python) = (read("docs/scenarios.md"), read("docs/python.md"));
    for name in sandtable_env::builtin_names() {
        assert!(guide.contains(&format!("| `{name}`")), "docs/scenarios.md has no row for the built-in `{name}`");
        let camel: String = name.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
        assert!(python.contains(&camel), "docs/python.md does not list the built-in `{name}` ({camel})");
    }
}

#[test]
fn the_readme_fits_a_first_visit() {
    let lines = read("README.md").lines().count();
    assert!(lines <= 150, "README.md has {lines} lines; the long parts belong in docs/");
}

/// Markdown links `](path)` or `](path#anchor)` that are not URLs.
fn relative_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(')')?;
            let target = rest[..end].split('#').next()?.to_string();
            (!target.is_empty() && !target.contains("://")).then_some(target)
        })
        .collect()
}

#[test]
fn relative_links_lead_to_files() {
    let mut docs = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            docs.push(format!("docs/{name}"));
        }
    }
    for doc in docs {
        let dir = root().join(&doc).parent().expect("a folder").to_path_buf();
        for link in relative_links(&read(&doc)) {
            assert!(dir.join(&link).exists(), "{doc} links to {link}, which does not exist");
        }
    }
}
