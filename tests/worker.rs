//! The wasm build inside a dedicated Worker, where the live-update design
//! runs the engine: the same parity cases as the page test.
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
fn default_bundle_reproduces_its_parity_cases_in_a_worker() {
    common::js::assert_parity_through_binding(&common::default_bundle());
}
