//! "Frequently bought together" on the committed bundle given a small
//! partner file: a product's partners, a cart's summed scores, rules, and
//! every way the file can be broken.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::rules::Rules;
use edgerec::{BundleFiles, Engine};
use serde_json::{json, Value};

/// Rows 0..=3 (ids "1".."4"): 0 with 1 (0.5) and 2 (0.2); 1 with 0 (0.5) and
/// 2 (0.3); 3 with 2 (0.4). Everything else has no partner.
const PARTNERS: &[(usize, &[(u32, f32)])] =
    &[(0, &[(1, 0.5), (2, 0.2)]), (1, &[(0, 0.5), (2, 0.3)]), (3, &[(2, 0.4)])];

fn together_file() -> Vec<u8> {
    let (mut offsets, mut partners, mut scores) = (vec![0u32], Vec::new(), Vec::new());
    for row in 0..1682 {
        for &(partner, score) in PARTNERS.iter().find(|(r, _)| *r == row).map_or(&[][..], |(_, p)| p) {
            partners.push(partner);
            scores.push(score);
        }
        offsets.push(partners.len() as u32);
    }
    let mut bytes: Vec<u8> = offsets.iter().chain(&partners).flat_map(|v| v.to_le_bytes()).collect();
    bytes.extend(scores.iter().flat_map(|s| s.to_le_bytes()));
    bytes
}

fn with_together(bytes: Vec<u8>, pairs: u64, cases: Vec<Value>) -> BundleFiles {
    let mut files = common::default_bundle();
    files.insert("together.bin".into(), Vec::new());
    common::edit_manifest(&mut files, |m| {
        m["files"].as_array_mut().unwrap().push(json!({ "path": "together.bin", "bytes": 0, "sha256": "" }));
        m["models"]["together"] = json!({ "file": "together.bin", "pairs": pairs });
        m["parity"]["cases"].as_array_mut().unwrap().extend(cases);
    });
    common::replace_file(&mut files, "together.bin", bytes);
    files
}

fn shop() -> Engine {
    let cases = vec![
        json!({ "kind": "together", "items": ["1"], "expected": [{ "id": "2", "score": 0.5 }, { "id": "3", "score": 0.2 }] }),
        json!({ "kind": "together", "items": ["1", "2"], "expected": [{ "id": "3", "score": 0.5 }] }),
    ];
    Engine::load(&with_together(together_file(), 5, cases)).expect("loads, its together cases pass")
}

fn ids(answer: &edgerec::Recommendations) -> Vec<&str> {
    answer.items.iter().map(|i| i.id.as_str()).collect()
}

#[test]
fn partners_of_a_product_and_of_a_cart() {
    let engine = shop();
    assert!(engine.models().contains(&"together"));
    let one = engine.together(&["1"], 10, &Rules::default()).unwrap();
    assert_eq!((one.source.as_str(), ids(&one)), ("together", vec!["2", "3"]), "only partners qualify");
    // A cart: scores add up ("3" is a partner of "1" and "2"), the cart is left out.
    let cart = engine.together(&["1", "2", "4", "nope"], 10, &Rules::default()).unwrap();
    assert_eq!(ids(&cart), vec!["3"]);
    assert!((cart.items[0].score - (0.2 + 0.3 + 0.4)).abs() < 1e-6);
    assert_eq!(cart.skipped, vec!["nope".to_owned()]);
    let rules: Rules = serde_json::from_value(json!({ "exclude": ["2"] })).unwrap();
    assert_eq!(ids(&engine.together(&["1"], 10, &rules).unwrap()), vec!["3"]);
    assert!(engine.together(&["5"], 10, &Rules::default()).unwrap().items.is_empty(), "no partners: none");
    assert_eq!(engine.together(&["nope"], 10, &Rules::default()).unwrap_err().code(), "empty_history");
}

#[test]
fn a_broken_partner_file_is_refused() {
    let case = vec![
        json!({ "kind": "together", "items": ["1"], "expected": [{ "id": "2", "score": 0.5 }, { "id": "3", "score": 0.2 }] }),
    ];
    let good = together_file();
    let mut outside = good.clone();
    let first_partner = 4 * 1683;
    outside[first_partner..first_partner + 4].copy_from_slice(&5000u32.to_le_bytes());
    let mut falling = good.clone();
    falling[4..8].copy_from_slice(&9u32.to_le_bytes()); // offset of row 1 past the pairs
    let mut nan = good.clone();
    let first_score = 4 * 1683 + 4 * 5;
    nan[first_score..first_score + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    for (bytes, pairs, says) in [
        (good[..good.len() - 1].to_vec(), 5, "do not hold"),
        (good.clone(), 6, "do not hold"),
        (outside, 5, "outside the catalog"),
        (falling, 5, "offsets must rise"),
        (nan, 5, "not finite"),
    ] {
        let error = Engine::load(&with_together(bytes, pairs, case.clone())).err().expect("refused");
        assert_eq!(error.code(), "bundle_wrong_dimensions", "{error}");
        assert!(error.to_string().contains(says), "{error}");
    }
    let error = Engine::load(&with_together(good, 5, Vec::new())).err().expect("a model needs parity cases");
    assert_eq!(error.code(), "bundle_parity_missing");
}
