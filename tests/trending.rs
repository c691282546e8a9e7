//! Trending and popularity on the committed bundle given a popularity file
//! (built here from its research users' histories): the trending answer,
//! per category and under rules, and the fallback of for-you and next up
//! when a history has no known item.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::rules::Rules;
use edgerec::{Engine, EngineError};
use serde_json::{json, Value};

/// Column 0 trending (each item's users, weighted by 1/(1 + row % 5), so
/// trending and popularity order differ), column 1 popularity (its users).
/// Rows in `cold` have no recent events: trending 0, popularity kept.
fn popularity(files: &edgerec::BundleFiles, cold: &[usize]) -> Vec<[f32; 2]> {
    let users: Value = serde_json::from_slice(&files["users.json"]).unwrap();
    let mut counts = vec![0f32; 1682];
    for seen in users["seen"].as_array().unwrap() {
        for row in seen.as_array().unwrap() {
            counts[row.as_u64().unwrap() as usize] += 1.0;
        }
    }
    let trending = |row: usize, c: f32| if cold.contains(&row) { 0.0 } else { c / (1 + row % 5) as f32 };
    counts.iter().enumerate().map(|(row, &c)| [trending(row, c), c]).collect()
}

/// The best k rows by `scores` among `allowed`: higher first, lower row on ties.
fn ranked(scores: &[f32], allowed: impl Fn(usize) -> bool, k: usize) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..scores.len()).filter(|&row| allowed(row)).collect();
    rows.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    rows.truncate(k);
    rows
}

fn shop(cold: &[usize]) -> (Engine, Vec<[f32; 2]>) {
    let mut files = common::default_bundle();
    let scores = popularity(&files, cold);
    let bundle = edgerec::Bundle::from_files(&files).unwrap();
    let ids: Vec<String> = bundle.catalog.items().iter().map(|item| item.id.clone()).collect();
    let trending: Vec<f32> = scores.iter().map(|s| s[0]).collect();
    let expected = |rows: Vec<usize>| -> Value {
        rows.iter().map(|&row| json!({ "id": ids[row], "score": trending[row] })).collect()
    };
    let drama = |row: usize| bundle.catalog.item(row).categories.iter().any(|c| c == "Drama");
    let cases = [
        json!({ "kind": "trending", "category": null, "expected": expected(ranked(&trending, |_| true, 10)) }),
        json!({ "kind": "trending", "category": "Drama", "expected": expected(ranked(&trending, drama, 10)) }),
    ];
    files.insert("popularity.f32".into(), Vec::new());
    common::edit_manifest(&mut files, |m| {
        m["files"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "path": "popularity.f32", "bytes": 0, "sha256": "" }));
        m["models"]["popularity"] = json!({ "scores": { "file": "popularity.f32", "rows": 1682, "cols": 2, "dtype": "f32" }, "half_life_days": 7 });
        m["parity"]["cases"].as_array_mut().unwrap().extend(cases);
    });
    common::replace_file(&mut files, "popularity.f32", common::f32_bytes(&scores.concat()));
    (Engine::load(&files).expect("a bundle with popularity loads and passes its trending cases"), scores)
}

#[test]
fn trending_ranks_by_decayed_popularity_per_category_and_under_rules() {
    let (engine, scores) = shop(&[]);
    assert!(engine.models().contains(&"popularity"));
    let trending: Vec<f32> = scores.iter().map(|s| s[0]).collect();
    let answer = engine.trending(10, None, &Rules::default()).unwrap();
    assert_eq!(answer.source, "trending");
    let rows: Vec<usize> = answer.items.iter().map(|i| engine.catalog().index_of(&i.id).unwrap()).collect();
    assert_eq!(rows, ranked(&trending, |_| true, 10));
    let popular_rows = ranked(&scores.iter().map(|s| s[1]).collect::<Vec<_>>(), |_| true, 10);
    assert_ne!(rows, popular_rows, "decay changes the order");
    let rules: Rules =
        serde_json::from_value(json!({ "filter": { "category": "Sci-Fi" }, "exclude": ["50"] })).unwrap();
    let sci_fi = engine.trending(5, None, &rules).unwrap();
    assert_eq!(sci_fi.items.len(), 5);
    assert!(sci_fi.items.iter().all(|item| item.id != "50"));
    assert_eq!(
        engine.trending(5, Some("No Such Genre"), &Rules::default()).unwrap_err().code(),
        "unknown_category"
    );
}

#[test]
fn a_history_with_no_known_item_falls_back_to_trending_then_popular() {
    let (engine, _) = shop(&[]);
    let unknown = ["not-in-catalog"];
    let for_you = engine.for_history(&unknown, 10).unwrap();
    assert_eq!((for_you.source.as_str(), for_you.items.len()), ("trending", 10));
    assert_eq!(for_you.skipped, vec!["not-in-catalog".to_owned()]);
    assert_eq!(for_you.items, engine.trending(10, None, &Rules::default()).unwrap().items);
    assert_eq!(engine.next_up(&[] as &[&str], 10, true).unwrap().source, "trending");
    assert_eq!(engine.for_history(&["1", "50"], 10).unwrap().source, "for_you");
    assert_eq!(engine.next_up(&["1", "50"], 10, true).unwrap().source, "next_up");

    // Where nothing trends under the page's rules, what was ever popular:
    // no "Animation" film has a recent event in this bundle.
    let animation: Vec<usize> = (0..1682)
        .filter(|&row| engine.catalog().item(row).categories.iter().any(|c| c == "Animation"))
        .collect();
    let (cold_engine, scores) = shop(&animation);
    let rules: Rules = serde_json::from_value(json!({ "filter": { "category": "Animation" } })).unwrap();
    let fallback = cold_engine.for_history_with(&[] as &[&str], 5, &rules).unwrap();
    assert_eq!(fallback.source, "popular");
    let popularity: Vec<f32> = scores.iter().map(|s| s[1]).collect();
    let rows: Vec<usize> = fallback.items.iter().map(|i| engine.catalog().index_of(&i.id).unwrap()).collect();
    assert_eq!(rows, ranked(&popularity, |row| animation.contains(&row), 5));
    assert!(fallback.items[0].score > 0.0);
    // And without a popularity model there is no fallback: the old error.
    let error = engine_without_popularity().for_history(&unknown, 10).unwrap_err();
    assert!(matches!(error, EngineError::EmptyHistory { .. }), "{error}");
}

fn engine_without_popularity() -> Engine {
    Engine::load(&common::default_bundle()).unwrap()
}
