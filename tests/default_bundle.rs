//! The committed MovieLens-100K bundle, loaded natively: it verifies, passes
//! its parity cases, and answers with real catalog content.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::{Engine, EngineError};

#[test]
fn loads_and_passes_its_parity_cases() {
    let engine = Engine::load(&common::default_bundle()).expect("default bundle loads");
    assert_eq!(engine.name(), "ml-100k");
    assert_eq!(engine.catalog().len(), 1682);
    assert!(engine.manifest().parity.cases.len() >= 20);
}

#[test]
fn similar_movies_are_real_titles_with_the_version() {
    let engine = Engine::load(&common::default_bundle()).unwrap();
    let answer = engine.similar("1", 10, None).unwrap(); // Toy Story
    assert_eq!(answer.version, engine.version());
    assert_eq!(answer.items.len(), 10);
    assert!(answer.items.iter().all(|r| r.id != "1" && !r.title.is_empty()));
    assert!(answer.items.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn category_filter_keeps_only_that_category() {
    let engine = Engine::load(&common::default_bundle()).unwrap();
    let answer = engine.similar("1", 20, Some("Animation")).unwrap();
    assert!(!answer.items.is_empty());
    for rec in &answer.items {
        let item = engine.catalog().item(engine.catalog().index_of(&rec.id).unwrap());
        assert!(item.categories.iter().any(|c| c == "Animation"), "{} is not Animation", item.title);
    }
}

#[test]
fn tampered_parity_case_is_refused() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        let score = m["parity"]["cases"][0]["expected"][0]["score"].as_f64().unwrap();
        m["parity"]["cases"][0]["expected"][0]["score"] = serde_json::json!(score + 0.01);
    });
    match Engine::load(&files) {
        Err(e @ EngineError::Parity { case: 0, .. }) => {
            assert_eq!(e.code(), "bundle_parity_failed")
        }
        Err(other) => panic!("expected a parity failure, got {other}"),
        Ok(_) => panic!("a bundle with a wrong parity score was accepted"),
    }
}

#[test]
fn history_with_unknown_ids_skips_and_reports_them() {
    let engine = Engine::load(&common::default_bundle()).unwrap();
    let answer = engine.for_history(&["1", "no-such-sku", "50"], 5).unwrap();
    assert_eq!(answer.skipped, vec!["no-such-sku".to_owned()]);
    assert_eq!(answer.items.len(), 5);
    assert!(answer.items.iter().all(|r| r.id != "1" && r.id != "50"));
    match engine.for_history(&["nope"], 5) {
        Err(EngineError::EmptyHistory { skipped }) => assert_eq!(skipped, vec!["nope".to_owned()]),
        other => panic!("expected EmptyHistory, got {other:?}"),
    }
}

/// Every committed version of the default channel loads and passes parity,
/// and the pointer names one of them: what the demo and the update tests serve.
#[test]
fn every_published_version_of_the_default_channel_loads() {
    let channel = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/channel/ml-100k");
    let pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(channel.join("latest.json")).unwrap()).unwrap();
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(channel.join("versions")).unwrap() {
        let dir = entry.unwrap().path();
        let engine = Engine::load(&edgerec::bundle::read_dir(&dir).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(engine.version(), dir.file_name().unwrap().to_str().unwrap(), "folder names its version");
        versions.push(engine.version().to_string());
    }
    assert!(versions.len() >= 2, "two versions, so a swap is visible: {versions:?}");
    assert!(versions.iter().any(|v| *v == pointer["version"]), "latest.json names a published version");
    assert_eq!(
        pointer["manifest"],
        format!("versions/{}/manifest.json", pointer["version"].as_str().unwrap())
    );
}
