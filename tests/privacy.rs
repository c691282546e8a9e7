//! A shop bundle carries no shopper's data: without known users it loads,
//! serves every shopper by fold-in, and says so when asked for a known user.
//! Catalog attributes (price, brand, ...) are kept, typed.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::{BundleFiles, Engine};
use serde_json::{json, Value};

/// The default bundle with its known users (ids, histories, factors) removed.
fn without_known_users() -> BundleFiles {
    let mut files = common::default_bundle();
    files.remove("users.json");
    files.remove("user_factors.f32");
    common::edit_manifest(&mut files, |m| {
        let factors = m["models"]["factors"].as_object_mut().unwrap();
        factors.remove("users");
        factors.remove("users_file");
        m["files"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["path"] != "users.json" && f["path"] != "user_factors.f32");
        m["parity"]["cases"].as_array_mut().unwrap().retain(|c| c["kind"] != "for_user");
    });
    files
}

#[test]
fn a_bundle_without_known_users_serves_fold_in() {
    let engine = Engine::load(&without_known_users()).expect("loads without users");
    let answer = engine.for_history(&["1", "50", "181"], 5).unwrap();
    assert_eq!(answer.items.len(), 5);
    let error = engine.for_user("1", 5).unwrap_err();
    assert_eq!(error.code(), "model_missing");
    assert!(error.to_string().contains("known_users"), "{error}");
}

#[test]
fn known_users_need_both_their_factors_and_their_list() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        m["models"]["factors"].as_object_mut().unwrap().remove("users_file");
    });
    let error = Engine::load(&files).err().unwrap();
    assert_eq!(error.code(), "bundle_malformed_manifest");
}

#[test]
fn a_for_user_parity_case_needs_known_users() {
    let mut files = without_known_users();
    common::edit_manifest(&mut files, |m| {
        let case = json!({ "kind": "for_user", "user": "1", "expected": [] });
        m["parity"]["cases"].as_array_mut().unwrap().push(case);
    });
    assert_eq!(Engine::load(&files).err().unwrap().code(), "bundle_parity_failed");
}

#[test]
fn catalog_attributes_are_kept_typed() {
    let mut files = common::default_bundle();
    let mut catalog: Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    catalog["items"][0]["attributes"] = json!({ "price": 3.5, "brand": "Pixar", "available": false });
    common::replace_file(&mut files, "catalog.json", serde_json::to_vec(&catalog).unwrap());
    let engine = Engine::load(&files).unwrap();
    let item = &engine.catalog().items()[0];
    assert_eq!(item.attributes["price"], json!(3.5));
    assert_eq!(item.attributes["brand"], json!("Pixar"));
    assert_eq!(item.attributes["available"], json!(false));
    assert!(engine.catalog().items()[1].attributes.is_empty());
}
