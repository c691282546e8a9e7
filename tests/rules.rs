//! Merchandising rules on the committed bundle, its catalog given prices,
//! brands and stock: filters inside the scan (k items whenever k qualify),
//! exclusions, boosts, pins, for every model and for search.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::rules::Rules;
use edgerec::{Engine, Recommendations};
use serde_json::{json, Value};

/// The default bundle, each item given `price` (row % 50 + 0.99),
/// `brand` ("odd" or "even" row) and `available` (false for every 7th row).
fn shop() -> Engine {
    let mut files = common::default_bundle();
    let mut catalog: Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    for (row, item) in catalog["items"].as_array_mut().unwrap().iter_mut().enumerate() {
        item["attributes"] = json!({
            "price": (row % 50) as f64 + 0.99,
            "brand": if row % 2 == 1 { "odd" } else { "even" },
            "available": row % 7 != 0,
        });
    }
    common::replace_file(&mut files, "catalog.json", serde_json::to_vec(&catalog).unwrap());
    Engine::load(&files).expect("the bundle with attributes loads")
}

fn rules(value: Value) -> Rules {
    serde_json::from_value(value).unwrap()
}

fn attribute<'a>(engine: &'a Engine, id: &str, name: &str) -> &'a Value {
    let row = engine.catalog().index_of(id).unwrap();
    &engine.catalog().item(row).attributes[name]
}

fn ids(answer: &Recommendations) -> Vec<&str> {
    answer.items.iter().map(|item| item.id.as_str()).collect()
}

#[test]
fn filters_apply_inside_the_scan_for_every_model() {
    let engine = shop();
    let history = ["1", "50", "181", "100"];
    let filter = rules(
        json!({ "filter": { "price": { "min": 10, "max": 12 }, "available": true, "brand": ["odd"] } }),
    );
    let answers = [
        engine.similar_with("50", 20, None, &filter).unwrap(),
        engine.for_history_with(&history, 20, &filter).unwrap(),
        engine.next_up_with(&history, 20, true, &filter).unwrap(),
        engine.for_user_with("1", 20, &filter).unwrap(),
        engine.search_with("the", 20, &[] as &[&str], &filter).unwrap(),
    ];
    for (model, answer) in answers.iter().enumerate() {
        // Rows 10..=12 mod 50, odd, not a multiple of 7: about 1 in 40 items
        // qualifies, and still every model's answer is full. Search only
        // ranks items matching the text, fewer here.
        let search = model == 4;
        assert!(
            if search { !answer.items.is_empty() } else { answer.items.len() == 20 },
            "{:?}",
            ids(answer)
        );
        for item in &answer.items {
            let price = attribute(&engine, &item.id, "price").as_f64().unwrap();
            assert!((10.0..=12.0).contains(&price), "{} costs {price}", item.id);
            assert_eq!(attribute(&engine, &item.id, "available"), &json!(true));
            assert_eq!(attribute(&engine, &item.id, "brand"), &json!("odd"));
        }
    }
    // A category filter is the old category argument.
    let by_rule =
        engine.similar_with("1", 10, None, &rules(json!({ "filter": { "category": "Comedy" } }))).unwrap();
    assert_eq!(by_rule, engine.similar("1", 10, Some("Comedy")).unwrap());
    // Fewer qualify than asked: all of them, no more.
    let few =
        engine.similar_with("1", 100, None, &rules(json!({ "filter": { "category": "unknown" } }))).unwrap();
    assert_eq!(few.items.len(), 2);
}

#[test]
fn exclusions_boosts_and_pins() {
    let engine = shop();
    let plain = engine.similar("50", 10, None).unwrap();
    let excluded: Vec<&str> = ids(&plain)[..3].to_vec();
    let without = engine.similar_with("50", 10, None, &rules(json!({ "exclude": excluded }))).unwrap();
    assert_eq!(without.items.len(), 10);
    assert_eq!(ids(&without)[..7], ids(&plain)[3..], "the rest move up, in order");

    // A boost adds its weight to the score of what it matches.
    let boost = rules(json!({ "boost": [{ "when": { "category": "Documentary" }, "weight": 5.0 }] }));
    let boosted = engine.similar_with("50", 10, None, &boost).unwrap();
    for item in &boosted.items {
        let row = engine.catalog().index_of(&item.id).unwrap();
        assert!(engine.catalog().item(row).categories.iter().any(|c| c == "Documentary"), "{}", item.id);
    }
    assert!(boosted.items.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(boosted.items[0].score > 5.0 - 1.0 && boosted.items[0].score <= 6.0 + 1e-6);

    // Pins: at their positions, once; one the filter rejects is not shown.
    let pins = rules(json!({
        "pin": [{ "id": "2", "position": 0 }, { "id": "100", "position": 3 }, { "id": "8", "position": 1 }],
        "filter": { "available": true },
    }));
    assert_eq!(attribute(&engine, "8", "available"), &json!(false), "row 7 is out of stock");
    let pinned = engine.similar_with("50", 10, None, &pins).unwrap();
    assert_eq!(pinned.items.len(), 10);
    assert_eq!((pinned.items[0].id.as_str(), pinned.items[3].id.as_str()), ("2", "100"));
    assert!(!ids(&pinned).contains(&"8"));
    assert_eq!(ids(&pinned).iter().filter(|&&id| id == "2" || id == "100").count(), 2, "each once");
    // The same rules work on search.
    let searched =
        engine.search_with("star", 5, &[] as &[&str], &rules(json!({ "exclude": ["50"] }))).unwrap();
    assert!(!ids(&searched).contains(&"50") && !searched.items.is_empty());
}

#[test]
fn bad_rules_are_clear_errors() {
    let engine = shop();
    for (bad, code, says) in [
        (json!({ "filter": { "category": "Space Opera" } }), "unknown_category", "Space Opera"),
        (json!({ "filter": { "price": { "min": 5, "max": 1 } } }), "invalid_argument", "min 5 > max 1"),
        (json!({ "filter": { "id": { "min": 1 } } }), "invalid_argument", "not a range"),
        (json!({ "filter": { "brand": [["nested"]] } }), "invalid_argument", "not a text"),
        (json!({ "pin": [{ "id": "no-such", "position": 0 }] }), "unknown_item", "no-such"),
    ] {
        let error = engine.similar_with("1", 5, None, &rules(bad)).unwrap_err();
        assert_eq!(error.code(), code, "{error}");
        assert!(error.to_string().contains(says), "{error}");
    }
    let many = json!({ "exclude": vec!["x"; edgerec::rules::MAX_RULE_VALUES + 1] });
    assert_eq!(engine.similar_with("1", 5, None, &rules(many)).unwrap_err().code(), "invalid_argument");
    assert!(serde_json::from_value::<Rules>(json!({ "filters": {} })).is_err(), "unknown fields are refused");
}

#[test]
fn overrides_replace_catalog_values_for_every_test() {
    let engine = shop();
    // Row 10 ("11") costs 10.99 and is in stock; row 13 ("14") costs 13.99.
    let cheap = rules(json!({ "filter": { "price": { "max": 11 } }, "overrides": {} }));
    let before = engine.similar_with("50", 1682, None, &cheap).unwrap();
    assert!(ids(&before).contains(&"11") && !ids(&before).contains(&"14"));
    let changed = rules(json!({
        "filter": { "price": { "max": 11 }, "available": true },
        "overrides": { "11": { "available": false }, "14": { "price": 9.5 } },
    }));
    let after = engine.similar_with("50", 1682, None, &changed).unwrap();
    assert!(!ids(&after).contains(&"11"), "out of stock by override");
    assert!(ids(&after).contains(&"14"), "cheaper by override");
    let bad = rules(json!({ "overrides": { "11": { "category": "Drama" } } }));
    assert_eq!(engine.similar_with("50", 5, None, &bad).unwrap_err().code(), "invalid_argument");
}
