//! Models on a hand-made bundle whose answers are known in advance.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::kernel::{Matrix, RowSet};
use edgerec::models::FactorModel;
use edgerec::{Engine, EngineError};

fn hand_made() -> Engine {
    Engine::load(&common::hand_made_bundle()).expect("hand-made bundle loads")
}

fn ids(answer: &edgerec::Recommendations) -> Vec<&str> {
    answer.items.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn similar_is_cosine_and_never_the_item_itself() {
    let engine = hand_made();
    let answer = engine.similar("sku-a", 2, None).unwrap();
    assert_eq!(ids(&answer), vec!["sku-b", "sku-f"]);
    let cos_ab = 2.0 / (4.0f32 + 0.04).sqrt();
    assert!((answer.items[0].score - cos_ab).abs() < 1e-6);
    assert_eq!(answer.items[0].title, "Banana");
    assert_eq!(answer.version, "test-1");
    assert_eq!(ids(&engine.similar("sku-c", 1, None).unwrap()), vec!["sku-e"]);
}

#[test]
fn similar_with_category_filter() {
    let engine = hand_made();
    assert_eq!(ids(&engine.similar("sku-a", 5, Some("veg")).unwrap()), vec!["sku-c", "sku-e"]);
    assert_eq!(ids(&engine.similar("sku-d", 5, Some("dried")).unwrap()), vec!["sku-f"]);
    assert!(matches!(engine.similar("sku-a", 5, Some("meat")), Err(EngineError::UnknownCategory { .. })));
}

#[test]
fn fold_in_matches_the_numpy_reference() {
    // numpy: np.linalg.solve(V.T @ V + 0.5 * I, V.T @ r), r = 1 on items 0, 2, 5
    let reference = [0.55808f32, -0.177_925_12, 0.687_787_4];
    let model =
        FactorModel::new(Matrix::new(6, 3, common::HAND_MADE_FACTORS.to_vec()).unwrap().into(), 0.5).unwrap();
    let folded = model.fold_in(&RowSet::new([0, 2, 5, 2])).unwrap(); // a repeat counts once
    for (got, want) in folded.iter().zip(reference) {
        assert!((got - want).abs() < 1e-6, "{folded:?} vs {reference:?}");
    }
}

#[test]
fn for_history_scores_the_folded_in_vector_and_excludes_the_history() {
    // numpy: V @ u = [0.9020, -0.0663, 0.6344, 0.2661, 0.2751, 0.6066]
    let answer = hand_made().for_history(&["sku-a", "sku-c", "sku-f"], 3).unwrap();
    assert_eq!(ids(&answer), vec!["sku-e", "sku-d", "sku-b"]);
    let want = [0.275_115, 0.266_108_4, -0.066_309_12];
    for (got, want) in answer.items.iter().zip(want) {
        assert!((got.score - want).abs() < 1e-5);
    }
}

#[test]
fn for_user_excludes_training_items() {
    let engine = hand_made();
    // alice = e1: scores are the first factor column; she saw sku-a.
    assert_eq!(ids(&engine.for_user("alice", 2).unwrap()), vec!["sku-f", "sku-d"]);
    // bob = e2; he saw sku-b and sku-d.
    assert_eq!(ids(&engine.for_user("bob", 2).unwrap()), vec!["sku-c", "sku-a"]);
    assert!(matches!(engine.for_user("carol", 2), Err(EngineError::UnknownUser { .. })));
}

#[test]
fn bad_queries_get_distinct_errors() {
    let engine = hand_made();
    assert_eq!(engine.similar("sku-zzz", 3, None).unwrap_err().code(), "unknown_item");
    assert_eq!(engine.similar("sku-a", 0, None).unwrap_err().code(), "invalid_k");
    assert_eq!(engine.for_history::<&str>(&[], 3).unwrap_err().code(), "empty_history");
    // The engine keeps answering after errors.
    assert_eq!(engine.similar("sku-a", 1, None).unwrap().items.len(), 1);
}
