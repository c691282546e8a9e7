//! Replays the committed fuzz corpus and every crash reproducer through the
//! same harness the fuzzer runs (tests/fuzz/harness.rs), so a fixed crash
//! stays fixed in a plain `cargo test`. Fuzzing itself: docs/fuzzing.md.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "fuzz/harness.rs"]
mod harness;
#[path = "fuzz/seeds.rs"]
mod seeds;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The files of `tests/fuzz/<kind>/<target>`, sorted; none if the folder is missing.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.map(|e| e.expect("readable entry").path()).filter(|p| p.is_file()).collect();
    paths.sort();
    paths
}

/// Runs every input of `kind` through its target; a panic names the file.
fn replay(kind: &str) -> usize {
    let mut count = 0;
    for &(target, run) in harness::TARGETS {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).expect("readable input");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panics (reproduce with scripts/fuzz.sh)", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn committed_corpus_never_panics() {
    let count = replay("corpus");
    assert!(count > 0, "no corpus under {}", fuzz_dir().display());
}

#[test]
fn crash_reproducers_stay_fixed() {
    replay("regressions");
}

#[test]
fn seeds_reach_the_end_of_each_target() {
    // The seeds must load, or the fuzzer would start from refusals only.
    for (_, input) in seeds::engine_seeds() {
        let (options, files) = harness::bundle_input(&input);
        edgerec::Engine::load_with(&files, &options).expect("an engine seed loads");
    }
}

#[test]
fn a_term_repeated_65536_times_in_a_title() {
    // Too big to commit as a corpus file (over 128 KB): built instead.
    harness::engine(&seeds::repeated_term_input());
}

/// Rewrites the seed corpus: `cargo test --test fuzz_regressions -- --ignored write_seeds`.
#[test]
#[ignore = "writes tests/fuzz/corpus/*/seed-* and built reproducers; run by hand after changing the seeds"]
fn write_seeds() {
    seeds::write(&fuzz_dir());
}
