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
