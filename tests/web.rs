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
    let engine = Engine::new(&js_files(&common::default_bundle()), &JsValue::UNDEFINED).unwrap();
    let none = JsValue::UNDEFINED;
    let message = thrown(engine.similar(&"no-such-item".into(), 5.0, &none, &none), "unknown_item");
    assert!(message.contains("no-such-item"), "{message}");
    thrown(engine.similar(&"1".into(), 0.0, &none, &none), "invalid_k");
    thrown(engine.similar(&"1".into(), f64::NAN, &none, &none), "invalid_k");
    thrown(engine.similar(&"1".into(), 2.5, &none, &none), "invalid_k");
    thrown(engine.similar(&JsValue::from(42), 5.0, &none, &none), "invalid_argument");
    thrown(engine.similar(&"1".into(), 5.0, &"Not-A-Genre".into(), &none), "unknown_category");
    thrown(engine.for_user(&"0".into(), 5.0, &none), "unknown_user");
    thrown(engine.for_history(&JsValue::from("1"), 5.0, &none), "invalid_argument");
    thrown(engine.for_history(&serde_wasm_bindgen::to_value(&["x"]).unwrap(), 5.0, &none), "empty_history");
    let session = serde_wasm_bindgen::to_value(&["1", "50"]).unwrap();
    thrown(engine.next_up(&session, 5.0, &"yes".into(), &none), "invalid_argument");
    thrown(
        engine.next_up(&serde_wasm_bindgen::to_value::<[&str; 0]>(&[]).unwrap(), 5.0, &none, &none),
        "empty_history",
    );
    thrown(engine.next_up(&session, -1.0, &none, &none), "invalid_k");

    let after = answer(engine.similar(&"1".into(), 5.0, &none, &none));
    assert_eq!(after.items.len(), 5);
    let with_unknown =
        answer(engine.for_history(&serde_wasm_bindgen::to_value(&["1", "x"]).unwrap(), 3.0, &none));
    assert_eq!(with_unknown.skipped, vec!["x".to_owned()]);
    let next = answer(engine.next_up(&session, 5.0, &JsValue::FALSE, &none));
    assert_eq!(next.items.len(), 5);
    thrown(engine.search(&JsValue::from(3), 5.0, &none, &none), "invalid_argument");
    let found = answer(engine.search(&"Toy Story (1995)".into(), 3.0, &session, &none));
    assert_eq!(found.items[0].title, "Toy Story (1995)");

    // Merchandising rules from JS: checked, with the reason.
    let rules = |json: &str| js_sys::JSON::parse(json).unwrap();
    for (bad, code) in [
        (r#"{"filtr": {}}"#, "invalid_argument"),
        (r#"{"filter": {"category": "Not-A-Genre"}}"#, "unknown_category"),
        (r#"{"filter": {"price": {"min": 5, "max": 1}}}"#, "invalid_argument"),
        (r#"{"boost": [{"when": {"id": "1"}}]}"#, "invalid_argument"),
        (r#"{"pin": [{"id": "no-such-item", "position": 0}]}"#, "unknown_item"),
        ("[1, 2]", "invalid_argument"),
    ] {
        let result = engine.similar(&"1".into(), 5.0, &none, &rules(bad));
        assert!(result.is_err(), "rules {bad} were accepted");
        thrown(result, code);
    }
    let pinned = answer(engine.similar(
        &"1".into(),
        5.0,
        &none,
        &rules(r#"{"pin": [{"id": "181", "position": 1}], "filter": {"category": "Sci-Fi"}}"#),
    ));
    assert_eq!(pinned.items.len(), 5);
    assert_eq!(pinned.items[1].id, "181");
}

#[wasm_bindgen_test]
fn malformed_bundles_throw_with_the_reason() {
    let mut files = common::default_bundle();
    files.get_mut("item_factors.f32").unwrap()[10] ^= 0xFF;
    let message = thrown(Engine::new(&js_files(&files), &JsValue::UNDEFINED), "bundle_hash_mismatch");
    assert!(message.contains("item_factors.f32"), "{message}");

    let mut files = common::default_bundle();
    files.remove("catalog.json");
    thrown(Engine::new(&js_files(&files), &JsValue::UNDEFINED), "bundle_missing_file");

    thrown(Engine::new(&JsValue::from(7), &JsValue::UNDEFINED), "invalid_argument");
    let object = Object::new();
    Reflect::set(&object, &"manifest.json".into(), &"not bytes".into()).unwrap();
    thrown(Engine::new(&object, &JsValue::UNDEFINED), "invalid_argument");

    // A good bundle still loads after all those failures.
    Engine::new(&js_files(&common::default_bundle()), &JsValue::UNDEFINED).unwrap();
}

/// On wasm32 `usize` is 32 bits: 1682 rows × (2^31 + 64) columns × 4 bytes
/// wraps to exactly the real file size, which once passed every check and
/// then panicked. Now it is a limit, and with the limit lifted a size error.
#[wasm_bindgen_test]
fn wrapping_matrix_size_is_refused_in_wasm32() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        m["models"]["similar"]["embeddings"]["cols"] = serde_json::json!((1u64 << 31) + 64)
    });
    thrown(Engine::new(&js_files(&files), &JsValue::UNDEFINED), "bundle_dim_too_large");
    let options = js_sys::JSON::parse(r#"{ "limits": { "maxDim": 4294967296 } }"#).unwrap();
    thrown(Engine::new(&js_files(&files), &options), "bundle_wrong_dimensions");
}

#[wasm_bindgen_test]
fn load_options_from_js_are_checked() {
    let files = js_files(&common::default_bundle());
    let parse = |json: &str| js_sys::JSON::parse(json).unwrap();
    let message =
        thrown(Engine::new(&files, &parse(r#"{ "limits": { "maxItems": 1000 } }"#)), "bundle_too_many_items");
    assert!(message.contains("maxItems"), "{message}");
    thrown(Engine::new(&files, &parse(r#"{ "limits": { "maxWidgets": 1 } }"#)), "invalid_argument");
    thrown(Engine::new(&files, &parse(r#"{ "limits": { "maxItems": -1 } }"#)), "invalid_argument");
    thrown(Engine::new(&files, &parse(r#"{ "publicKeys": ["AAAA"] }"#)), "invalid_argument");
    thrown(Engine::new(&files, &JsValue::from(3)), "invalid_argument");
    // A valid key (RFC 8032, test 1) pinned and no manifest.sig in the files: refused.
    let key = r#"{ "publicKeys": ["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }"#;
    thrown(Engine::new(&files, &parse(key)), "bundle_bad_signature");
    Engine::new(&files, &parse(r#"{ "limits": { "maxItems": 1682 } }"#)).expect("within the limits");
}

/// Values in [-1, 1) from a fixed seed (xorshift).
fn pseudo_random(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// The int8 scan's integer pass runs on simd128 here: it must find exactly
/// the top k of the exact int8 scores, as the scalar pass does natively.
#[wasm_bindgen_test]
fn int8_scan_on_simd128_returns_the_exact_top_k() {
    use edgerec::kernel::{search, top_k, ItemMatrix, QuantizedMatrix};
    let mut next = pseudo_random(0x2545_F491_4F6C_DD1D);
    for (rows, cols) in [(3_000, 64), (2_000, 37), (1_003, 24), (500, 16), (800, 5), (23, 33)] {
        let values: Vec<f32> = (0..rows * cols).map(|_| next()).collect();
        let matrix = QuantizedMatrix::quantize(rows, cols, &values);
        let query: Vec<f32> = (0..cols).map(|_| 3.0 * next()).collect();
        let exact = matrix.scores(&query);
        let keep = |i: usize| i % 7 != 3;
        let hits = search(&ItemMatrix::I8(matrix), &query, 10, keep);
        let want = top_k(&exact, 10, keep);
        assert_eq!(hits, want, "{rows}x{cols}");
    }
}

/// The f32 scan scores four rows at a time on simd128: every score must be
/// the one row-by-row scoring gives, bit for bit, whatever the shape.
#[wasm_bindgen_test]
fn f32_scan_on_simd128_scores_every_row_as_one_row_alone() {
    use edgerec::kernel::Matrix;
    let mut next = pseudo_random(0x9E37_79B9_7F4A_7C15);
    for (rows, cols) in [(1_682, 64), (1_001, 48), (7, 40), (3, 64), (13, 37), (9, 5), (5, 8)] {
        let matrix = Matrix::new(rows, cols, (0..rows * cols).map(|_| next()).collect()).unwrap();
        let query: Vec<f32> = (0..cols).map(|_| 3.0 * next()).collect();
        let scores = matrix.scores(&query);
        assert_eq!(scores.len(), rows);
        for (row, score) in scores.iter().enumerate() {
            assert_eq!(score.to_bits(), matrix.score(row, &query).to_bits(), "{rows}x{cols}, row {row}");
        }
    }
}

/// `rankRows` is the same answer as the method it names, as catalog rows.
#[wasm_bindgen_test]
fn rank_rows_names_the_same_items_as_the_method() {
    let engine = Engine::new(&js_files(&common::default_bundle()), &JsValue::UNDEFINED).unwrap();
    let history = serde_wasm_bindgen::to_value(&["1", "50", "181"]).unwrap();
    let items: Vec<serde_json::Value> = serde_wasm_bindgen::from_value(engine.items().unwrap()).unwrap();
    let none = JsValue::UNDEFINED;
    for (method, args, plain) in [
        ("similar", vec![JsValue::from("50"), 10.into()], engine.similar(&"50".into(), 10.0, &none, &none)),
        ("forHistory", vec![history.clone(), 10.into()], engine.for_history(&history, 10.0, &none)),
        ("nextUp", vec![history.clone(), 10.into()], engine.next_up(&history, 10.0, &none, &none)),
        ("search", vec![JsValue::from("star"), 10.into()], engine.search(&"star".into(), 10.0, &none, &none)),
    ] {
        let args: js_sys::Array = args.into_iter().collect();
        let compact = engine.rank_rows(method, &args).unwrap();
        let rows: Vec<u32> =
            js_sys::Uint32Array::new(&Reflect::get(&compact, &"rows".into()).unwrap()).to_vec();
        let scores: Vec<f32> =
            js_sys::Float32Array::new(&Reflect::get(&compact, &"scores".into()).unwrap()).to_vec();
        let plain: edgerec::Recommendations = serde_wasm_bindgen::from_value(plain.unwrap()).unwrap();
        assert_eq!(rows.len(), plain.items.len(), "{method}");
        for ((row, score), item) in rows.iter().zip(&scores).zip(&plain.items) {
            assert_eq!(items[*row as usize]["id"], item.id.as_str(), "{method}");
            assert_eq!(*score, item.score, "{method}");
        }
    }
    thrown(engine.rank_rows("forUser", &js_sys::Array::new()), "bad_method");
}
