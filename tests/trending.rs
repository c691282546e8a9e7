//! Trending and popularity on the committed bundle given a popularity file
//! (built here from its research users' histories): the trending answer,
//! per category and under rules, and the fallback of for-you and next up
//! when a history has no known item.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::rules::Rules;
use edgerec::{Engine, EngineError};
use serde_json::json;

fn shop(cold: &[usize]) -> (Engine, Vec<[f32; 2]>) {
    let (files, scores) = common::with_popularity(cold);
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
    assert_eq!(rows, common::ranked(&trending, |_| true, 10));
    let popular_rows = common::ranked(&scores.iter().map(|s| s[1]).collect::<Vec<_>>(), |_| true, 10);
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
    assert_eq!(rows, common::ranked(&popularity, |row| animation.contains(&row), 5));
    assert!(fallback.items[0].score > 0.0);
    // And without a popularity model there is no fallback: the old error.
    let error = engine_without_popularity().for_history(&unknown, 10).unwrap_err();
    assert!(matches!(error, EngineError::EmptyHistory { .. }), "{error}");
}

fn engine_without_popularity() -> Engine {
    Engine::load(&common::default_bundle()).unwrap()
}
