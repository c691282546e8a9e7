//! The core build (`--no-default-features`: no tract) on the committed
//! bundle: similar items, for you and search answer and pass their parity
//! cases; next up is deferred to the full build, never half-loaded.
//! Run: cargo test --no-default-features --test core_build
#![cfg(all(not(feature = "next-up"), not(target_arch = "wasm32")))]

mod common;

use edgerec::Engine;

#[test]
fn the_core_build_serves_all_but_next_up_and_says_so() {
    let engine = Engine::load(&common::default_bundle()).expect("the core build loads the default bundle");
    assert_eq!(engine.models(), vec!["similar", "factors"]);
    assert_eq!(engine.deferred_models(), vec!["next_up"]);
    let similar = engine.similar("50", 10, None).unwrap();
    assert_eq!(similar.items.len(), 10);
    assert!(similar.items.iter().all(|item| item.id != "50"));
    assert_eq!(engine.for_history(&["1", "50", "181"], 10).unwrap().items.len(), 10);
    assert!(engine.search("star wars", 5, &[] as &[&str]).unwrap().items[0].title.starts_with("Star Wars"));
    let error = engine.next_up(&["1", "50"], 10, true).unwrap_err();
    assert_eq!(error.code(), "model_not_in_build");
    assert!(error.to_string().contains("the full build loads it"), "{error}");
    assert_eq!(engine.next_up_scores(&[0, 1]).unwrap_err().code(), "model_not_in_build");
}

#[test]
fn the_core_build_loads_without_next_ups_files_and_still_checks_them_when_present() {
    let mut files = common::default_bundle();
    let without: edgerec::bundle::BundleFiles = files
        .iter()
        .filter(|(path, _)| !path.starts_with("next_up"))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    assert_eq!(without.len() + 2, files.len(), "the default bundle has two next-up files");
    let engine = Engine::load(&without).expect("the core build needs none of next up's files");
    assert_eq!(engine.deferred_models(), vec!["next_up"]);
    assert_eq!(engine.similar("50", 10, None).unwrap().items.len(), 10);

    files.get_mut("next_up_items.f32").unwrap()[0] ^= 1;
    let error = Engine::load(&files).err().expect("a changed next-up file is refused");
    assert_eq!(error.code(), "bundle_hash_mismatch", "{error}");

    let mut no_factors = without;
    no_factors.remove("item_factors.f32");
    let error = Engine::load(&no_factors).err().expect("every other file is required");
    assert_eq!(error.code(), "bundle_missing_file", "{error}");
}
