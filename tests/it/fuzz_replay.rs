//! The fuzz corpus as regression tests: every file in `fuzz/corpus/<target>/`
//! (the seeds) and `fuzz/regressions/<target>/` (inputs that once broke an
//! oracle) goes through its target's body in `ralo::fuzzing`, so CI replays
//! them without cargo-fuzz.

use std::path::{Path, PathBuf};

use ralo::fuzzing::TARGETS;

/// The inputs in `dir`, sorted; none when it does not exist. README files
/// only explain the folder.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (target, run) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(target));
        let regressions = inputs(&fuzz.join("regressions").join(target));
        assert!(!corpus.is_empty(), "{target} has no seed corpus");
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} breaks the oracle",
                path.display()
            );
        }
        println!(
            "{target}: {} corpus and {} regression inputs replayed",
            corpus.len(),
            regressions.len()
        );
        total += corpus.len() + regressions.len();
    }
    println!("{total} fuzz inputs replayed");
}
