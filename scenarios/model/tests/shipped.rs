//! The scenarios ttlab ships: each validates, says what question it answers,
//! and is embedded byte for byte.

use std::path::Path;

use ttlab_scenarios::shipped::{SHIPPED, question};
use ttlab_scenarios::{World, load, summary};

#[test]
fn every_shipped_scenario_validates_and_builds_its_world() {
    assert!(SHIPPED.len() >= 7);
    for s in SHIPPED {
        let scenario = ttlab_scenarios::parse_str(s.path, s.source)
            .unwrap_or_else(|e| panic!("shipped scenario {} is invalid:\n{e}", s.name));
        assert_eq!(
            scenario.name, s.name,
            "the name inside {} matches its file",
            s.path
        );
        assert!(
            !scenario.description.is_empty(),
            "{} has a description",
            s.name
        );
        assert!(
            question(s).len() > 40,
            "{} starts with a comment saying what question it answers",
            s.name
        );
        let world = World::new(scenario);
        let sum = summary::summarize(&world);
        assert!(sum.pages > 0);
    }
}

#[test]
fn embedded_copies_match_the_files_on_disk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    for s in SHIPPED {
        let on_disk = std::fs::read_to_string(root.join(s.path)).unwrap();
        assert_eq!(on_disk, s.source, "{}", s.path);
        load(&root.join(s.path)).unwrap();
    }
    // And every scenario file in the folder is shipped.
    let mut files: Vec<String> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    files.sort();
    let mut shipped: Vec<String> = SHIPPED.iter().map(|s| s.name.to_owned()).collect();
    shipped.sort();
    assert_eq!(files, shipped);
}
