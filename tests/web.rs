//! The wasm build in headless Chromium (a page): the committed bundle loads
//! through the JS binding, reproduces its parity cases, and bad input throws
//! JS errors with a code while the engine keeps answering.
#![cfg(target_arch = "wasm32")]

mod common;

use common::js::{answer, assert_parity_through_binding, js_files, thrown};
use edgerec::wasm::Engine;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn default_bundle_reproduces_its_parity_cases_through_the_binding() {
    assert_parity_through_binding(&common::default_bundle());
}

#[wasm_bindgen_test]
fn bad_input_throws_and_the_engine_keeps_answering() {
    let engine = Engine::new(&js_files(&common::default_bundle())).unwrap();
    let none = JsValue::UNDEFINED;
    let message = thrown(engine.similar(&"no-such-item".into(), 5.0, &none), "unknown_item");
    assert!(message.contains("no-such-item"), "{message}");
    thrown(engine.similar(&"1".into(), 0.0, &none), "invalid_k");
    thrown(engine.similar(&"1".into(), f64::NAN, &none), "invalid_k");
    thrown(engine.similar(&"1".into(), 2.5, &none), "invalid_k");
    thrown(engine.similar(&JsValue::from(42), 5.0, &none), "invalid_argument");
    thrown(engine.similar(&"1".into(), 5.0, &"Not-A-Genre".into()), "unknown_category");
    thrown(engine.for_user(&"0".into(), 5.0), "unknown_user");
    thrown(engine.for_history(&JsValue::from("1"), 5.0), "invalid_argument");
    thrown(engine.for_history(&serde_wasm_bindgen::to_value(&["x"]).unwrap(), 5.0), "empty_history");
    let session = serde_wasm_bindgen::to_value(&["1", "50"]).unwrap();
    thrown(engine.next_up(&session, 5.0, &"yes".into()), "invalid_argument");
    thrown(
        engine.next_up(&serde_wasm_bindgen::to_value::<[&str; 0]>(&[]).unwrap(), 5.0, &none),
        "empty_history",
    );
    thrown(engine.next_up(&session, -1.0, &none), "invalid_k");

    let after = answer(engine.similar(&"1".into(), 5.0, &none));
    assert_eq!(after.items.len(), 5);
    let with_unknown = answer(engine.for_history(&serde_wasm_bindgen::to_value(&["1", "x"]).unwrap(), 3.0));
    assert_eq!(with_unknown.skipped, vec!["x".to_owned()]);
    let next = answer(engine.next_up(&session, 5.0, &JsValue::FALSE));
    assert_eq!(next.items.len(), 5);
    thrown(engine.search(&JsValue::from(3), 5.0, &none), "invalid_argument");
    let found = answer(engine.search(&"Toy Story (1995)".into(), 3.0, &session));
    assert_eq!(found.items[0].title, "Toy Story (1995)");
}

#[wasm_bindgen_test]
fn malformed_bundles_throw_with_the_reason() {
    let mut files = common::default_bundle();
    files.get_mut("item_factors.f32").unwrap()[10] ^= 0xFF;
    let message = thrown(Engine::new(&js_files(&files)), "bundle_hash_mismatch");
    assert!(message.contains("item_factors.f32"), "{message}");

    let mut files = common::default_bundle();
    files.remove("catalog.json");
    thrown(Engine::new(&js_files(&files)), "bundle_missing_file");

    thrown(Engine::new(&JsValue::from(7)), "invalid_argument");
    let object = Object::new();
    Reflect::set(&object, &"manifest.json".into(), &"not bytes".into()).unwrap();
    thrown(Engine::new(&object), "invalid_argument");

    // A good bundle still loads after all those failures.
    Engine::new(&js_files(&common::default_bundle())).unwrap();
}
