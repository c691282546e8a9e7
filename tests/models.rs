//! Models on a hand-made bundle whose answers are known in advance.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::HandMade;
use edgerec::kernel::{Matrix, RowSet};
use edgerec::models::FactorModel;
use edgerec::{Engine, EngineError};
use serde_json::json;

const ITEMS: &[(&str, &str, &[&str])] = &[
    ("sku-a", "Apple", &["fruit"]),
    ("sku-b", "Banana", &["fruit"]),
    ("sku-c", "Carrot", &["veg"]),
    ("sku-d", "Date", &["fruit"]),
    ("sku-e", "Eggplant", &["veg"]),
    ("sku-f", "Fig", &["fruit", "dried"]),
];

/// Embeddings chosen so cosines are easy to see: a≈b, c≈e, d≈f.
const EMBEDDINGS: &[f32] = &[
    1.0, 0.0, 0.0, //
    2.0, 0.2, 0.0, //
    0.0, 1.0, 0.0, //
    0.0, 0.0, 3.0, //
    0.0, 1.0, 0.1, //
    0.5, 0.0, 1.0, //
];

/// The item factors of the numpy fold-in reference below.
const FACTORS: &[f32] = &[
    1.0, 0.0, 0.5, //
    0.2, 1.0, 0.0, //
    0.0, 0.3, 1.0, //
    0.7, 0.7, 0.0, //
    0.0, 0.0, 0.4, //
    0.9, -0.2, 0.1, //
];

fn hand_made() -> Engine {
    let users: &[(&str, &[f32], &[u32])] =
        &[("alice", &[1.0, 0.0, 0.0], &[0]), ("bob", &[0.0, 1.0, 0.0], &[1, 3])];
    let files = HandMade {
        items: ITEMS,
        embeddings: EMBEDDINGS,
        embedding_dim: 3,
        item_factors: FACTORS,
        users,
        factor_dim: 3,
        fold_in_lambda: 0.5,
        // Worked out by hand: cosines against sku-a's [1, 0, 0], and alice's
        // factor [1, 0, 0] picking the first factor column.
        parity: json!({ "k": 3, "tolerance": 1e-4, "cases": [
            { "kind": "similar", "item": "sku-a", "expected": [
                { "id": "sku-b", "score": 0.995037 }, { "id": "sku-f", "score": 0.447214 },
                { "id": "sku-c", "score": 0.0 } ] },
            { "kind": "for_user", "user": "alice", "expected": [
                { "id": "sku-f", "score": 0.9 }, { "id": "sku-d", "score": 0.7 },
                { "id": "sku-b", "score": 0.2 } ] },
        ] }),
    }
    .build();
    Engine::load(&files).expect("hand-made bundle loads")
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
    let model = FactorModel::new(Matrix::new(6, 3, FACTORS.to_vec()).unwrap(), 0.5).unwrap();
    let folded = model.fold_in(&RowSet::new([0, 2, 5, 2])); // a repeat counts once
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
