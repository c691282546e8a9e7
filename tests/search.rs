//! Personalised search on the real MovieLens catalog of the committed bundle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::Engine;

fn engine() -> Engine {
    Engine::load(&common::default_bundle()).expect("default bundle loads")
}

fn titles(answer: &edgerec::Recommendations) -> Vec<&str> {
    answer.items.iter().map(|r| r.title.as_str()).collect()
}

#[test]
fn an_exact_title_ranks_that_title_first() {
    let engine = engine();
    let no_history: [&str; 0] = [];
    let items = engine.catalog().items();
    let shopper = ["50", "172", "181", "1", "71"];
    for item in items.iter().step_by(17) {
        for history in [&no_history[..], &shopper[..]] {
            let answer = engine.search(&item.title, 5, history).unwrap();
            let first = answer.items.first().map(|r| r.title.as_str());
            assert_eq!(first, Some(item.title.as_str()), "query {:?}, history {history:?}", item.title);
        }
    }
}

#[test]
fn two_shoppers_get_different_orders_for_an_ambiguous_query() {
    let engine = engine();
    let sci_fi_fan = ["50", "172", "181"]; // Star Wars trilogy
    let drama_fan = ["275", "483", "69", "88"]; // Sense and Sensibility, Casablanca, Forrest Gump, Sleepless in Seattle
    let for_fan = engine.search("star", 10, &sci_fi_fan).unwrap();
    let for_drama = engine.search("star", 10, &drama_fan).unwrap();
    assert_ne!(titles(&for_fan), titles(&for_drama));
    for answer in [&for_fan, &for_drama] {
        assert!(answer.items.iter().all(|r| r.title.to_lowercase().contains("star")), "{:?}", titles(answer));
    }
    // Without a history the order is the text order alone, and differs from both.
    let no_history: [&str; 0] = [];
    let plain = engine.search("star", 10, &no_history).unwrap();
    assert_ne!(titles(&plain), titles(&for_fan));
    assert_ne!(titles(&plain), titles(&for_drama));
}

#[test]
fn categories_are_searchable_and_no_match_is_an_empty_answer() {
    let engine = engine();
    let no_history: [&str; 0] = [];
    let noir = engine.search("film noir", 50, &no_history).unwrap();
    assert!(!noir.items.is_empty());
    let empty = engine.search("zzzqqq", 10, &no_history).unwrap();
    assert!(empty.items.is_empty());
    let skipped = engine.search("star", 3, &["nope"]).unwrap();
    assert_eq!(skipped.skipped, vec!["nope"]);
    assert_eq!(engine.search("star", 0, &no_history).unwrap_err().code(), "invalid_k");
}
