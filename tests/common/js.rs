//! Helpers for the wasm test binaries (page and worker): calling the JS
//! binding the way JavaScript does and checking what it returns or throws.

use edgerec::bundle::ParityCase;
use edgerec::engine::compare_ranking;
use edgerec::wasm::Engine;
use edgerec::{BundleFiles, Recommendations};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Bundle files as the JS API receives them: `{ path: Uint8Array }`.
pub fn js_files(files: &BundleFiles) -> JsValue {
    let object = Object::new();
    for (path, bytes) in files {
        Reflect::set(&object, &path.into(), &Uint8Array::from(bytes.as_slice())).unwrap();
    }
    object.into()
}

/// Decodes a successful call into the documented result shape.
pub fn answer(value: Result<JsValue, JsValue>) -> Recommendations {
    serde_wasm_bindgen::from_value(value.expect("call succeeds")).expect("result has the documented shape")
}

/// The thrown value is a JS Error with this `code`; returns its message.
pub fn thrown(result: Result<impl Sized, JsValue>, code: &str) -> String {
    let Err(value) = result else { panic!("expected a thrown {code} error") };
    let error: js_sys::Error = value.dyn_into().expect("thrown value is an Error");
    assert_eq!(Reflect::get(&error, &"code".into()).unwrap().as_string().as_deref(), Some(code));
    error.message().into()
}

/// Runs every parity case of `files` through the JS binding.
pub fn assert_parity_through_binding(files: &BundleFiles) {
    let engine = Engine::new(&js_files(files), &JsValue::UNDEFINED).expect("bundle loads in wasm");
    let (k, tolerance, cases) = super::parity_cases(files);
    assert!(cases.len() >= 20);
    for case in cases {
        let (got, expected) = match &case {
            ParityCase::Similar { item, category, expected } => {
                let category = category.as_deref().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
                (answer(engine.similar(&item.into(), k as f64, &category, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::ForUser { user, expected } => {
                (answer(engine.for_user(&user.into(), k as f64, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::ForHistory { history, expected } => {
                let ids = serde_wasm_bindgen::to_value(history).unwrap();
                (answer(engine.for_history(&ids, k as f64, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::NextUp { history, expected } => {
                let ids = serde_wasm_bindgen::to_value(history).unwrap();
                (answer(engine.next_up(&ids, k as f64, &JsValue::UNDEFINED, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::Trending { category, expected } => {
                let category = category.as_deref().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
                (answer(engine.trending(&category, k as f64, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::Together { items, expected } => {
                let ids = serde_wasm_bindgen::to_value(items).unwrap();
                (answer(engine.together(&ids, k as f64, &JsValue::UNDEFINED)), expected)
            }
            ParityCase::Unknown => continue,
        };
        assert_eq!(got.version, engine.version());
        compare_ranking(&got.items, expected, tolerance).unwrap_or_else(|e| panic!("{case:?}: {e}"));
    }
}
