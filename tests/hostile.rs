//! Hostile and broken manifests: every size is checked against the limits
//! before anything is allocated, each violation has its own code, signatures
//! are enforced when keys are pinned, and newer minor formats still load.
//! Each case starts from the real default bundle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use edgerec::bundle::{Limits, LoadOptions, PublicKey};
use edgerec::{BundleFiles, Engine};
use serde_json::json;

fn load_code(files: &BundleFiles, options: &LoadOptions) -> &'static str {
    match Engine::load_with(files, options) {
        Ok(_) => panic!("a hostile bundle was accepted"),
        Err(e) => {
            // Every refusal names what was wrong.
            assert!(!e.to_string().is_empty());
            e.code()
        }
    }
}

fn with_limits(edit: impl FnOnce(&mut Limits)) -> LoadOptions {
    let mut options = LoadOptions::default();
    edit(&mut options.limits);
    options
}

fn defaults() -> LoadOptions {
    LoadOptions::default()
}

/// 2^31 + 64 columns: 1682 rows × that × 4 bytes wraps, in 32-bit arithmetic,
/// to exactly the real file's 430,592 bytes.
const WRAPPING_COLS: u64 = (1 << 31) + 64;

#[test]
fn wrapping_matrix_size_is_refused_not_panicking() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        m["models"]["similar"]["embeddings"]["cols"] = json!(WRAPPING_COLS)
    });
    assert_eq!(load_code(&files, &defaults()), "bundle_dim_too_large");
    // With the limit lifted, the checked size arithmetic still refuses it.
    let unlimited = with_limits(|l| l.max_dim = u64::MAX);
    assert_eq!(load_code(&files, &unlimited), "bundle_wrong_dimensions");
}

#[test]
fn sizes_beyond_any_usize_are_limits_not_parse_errors() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["item_count"] = json!(u64::MAX));
    assert_eq!(load_code(&files, &defaults()), "bundle_too_many_items");
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["users"]["rows"] = json!(u64::MAX));
    assert_eq!(load_code(&files, &defaults()), "bundle_too_many_users");
}

#[test]
fn huge_sequence_length_is_refused_before_the_encoder_runs() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["next_up"]["max_len"] = json!(2_000_000_000u64));
    assert_eq!(load_code(&files, &defaults()), "bundle_sequence_too_long");
}

#[test]
fn huge_factor_dimension_is_refused_before_the_gram_matrix() {
    let mut files = common::default_bundle();
    // 30,000 columns: a 7.2 GB Gram matrix and an O(dim³) Cholesky if allowed.
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["items"]["cols"] = json!(30_000));
    assert_eq!(load_code(&files, &defaults()), "bundle_dim_too_large");
}

#[test]
fn file_count_and_sizes_are_limited_before_reading_files() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["files"][0]["bytes"] = json!(1u64 << 40));
    assert_eq!(load_code(&files, &defaults()), "bundle_file_too_large");

    let files = common::default_bundle();
    assert_eq!(load_code(&files, &with_limits(|l| l.max_bundle_bytes = 1_000_000)), "bundle_too_large");
    assert_eq!(load_code(&files, &with_limits(|l| l.max_files = 3)), "bundle_too_many_files");
    assert_eq!(
        load_code(&files, &with_limits(|l| l.max_manifest_bytes = 1_000)),
        "bundle_manifest_too_large"
    );
    assert_eq!(load_code(&files, &with_limits(|l| l.max_items = 1_000)), "bundle_too_many_items");
    assert_eq!(load_code(&files, &with_limits(|l| l.max_users = 100)), "bundle_too_many_users");
    assert_eq!(load_code(&files, &with_limits(|l| l.max_parity_cases = 3)), "bundle_too_many_parity_cases");
}

#[test]
fn categories_are_limited_and_cost_memberships_not_items_times_categories() {
    let files = common::default_bundle();
    // MovieLens has 19 genres and 2,893 item-genre memberships.
    assert_eq!(load_code(&files, &with_limits(|l| l.max_categories = 18)), "bundle_too_many_categories");
    assert_eq!(
        load_code(&files, &with_limits(|l| l.max_category_memberships = 2_000)),
        "bundle_too_many_memberships"
    );
    let engine = Engine::load_with(&files, &with_limits(|l| l.max_categories = 19)).unwrap();
    let catalog = engine.catalog();
    let memberships: usize = catalog.items().iter().map(|item| item.categories.len()).sum();
    let stored: usize = catalog.categories().iter().map(|c| catalog.members_of(c).unwrap().len()).sum();
    assert_eq!(stored, memberships, "one entry per membership");
    let comedy = catalog.members_of("Comedy").unwrap();
    for (row, item) in catalog.items().iter().enumerate() {
        assert_eq!(comedy.contains(row), item.categories.iter().any(|c| c == "Comedy"), "row {row}");
    }
}

#[test]
fn every_model_needs_a_parity_case() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["parity"]["cases"] = json!([]));
    assert_eq!(load_code(&files, &defaults()), "bundle_parity_missing");
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        let cases = m["parity"]["cases"].as_array_mut().unwrap();
        cases.retain(|c| c["kind"] != "next_up");
    });
    let error = Engine::load(&files).err().unwrap();
    assert_eq!(error.code(), "bundle_parity_missing");
    assert!(error.to_string().contains("next_up"), "{error}");
}

#[test]
fn newer_minor_format_with_unknown_fields_loads() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| {
        m["format"] = json!("edgerec-bundle/1.7");
        m["published_by"] = json!({ "team": "search" });
        m["models"]["similar"]["embeddings"]["quantisation"] = json!(null);
        m["models"]["similar"]["normalised"] = json!(true);
        m["models"]["seasonal"] = json!({ "file": "seasonal.f32" });
        m["parity"]["cases"][0]["note"] = json!("a field from the future");
        m["parity"]["cases"].as_array_mut().unwrap().push(json!({ "kind": "seasonal", "expected": [] }));
    });
    let engine = Engine::load(&files).expect("same major version loads");
    assert_eq!(engine.version(), "1");
}

#[test]
fn another_major_format_is_refused_as_such() {
    for format in
        ["edgerec-bundle/2", "edgerec-bundle/2.0", "edgerec-bundle/", "edgerec-bundle/1.x", "other/1"]
    {
        let mut files = common::default_bundle();
        common::edit_manifest(&mut files, |m| {
            m["format"] = json!(format);
            // A new major may change anything: it is refused on its format alone.
            m["models"] = json!("rewritten");
        });
        assert_eq!(load_code(&files, &defaults()), "bundle_unsupported_format", "{format}");
    }
}

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey::from_base64(&STANDARD.encode(key.verifying_key().to_bytes())).unwrap()
}

fn sign(files: &mut BundleFiles, key: &SigningKey) {
    let signature = key.sign(&files["manifest.json"]);
    files.insert("manifest.sig".into(), format!("{}\n", STANDARD.encode(signature.to_bytes())).into_bytes());
}

fn keys(keys: &[&SigningKey]) -> LoadOptions {
    LoadOptions { public_keys: keys.iter().map(|k| public_key(k)).collect(), ..LoadOptions::default() }
}

#[test]
fn signed_manifest_verifies_with_a_pinned_key_and_rotation() {
    let (old, new) = (signing_key(1), signing_key(2));
    let mut files = common::default_bundle();
    sign(&mut files, &new);
    Engine::load_with(&files, &keys(&[&new])).expect("signed by the pinned key");
    Engine::load_with(&files, &keys(&[&old, &new])).expect("rotation: any pinned key will do");
    Engine::load(&files).expect("without pinned keys the signature is not needed");
}

#[test]
fn unsigned_wrongly_signed_or_tampered_manifests_are_refused() {
    let (trusted, other) = (signing_key(1), signing_key(3));
    let pinned = keys(&[&trusted]);

    let unsigned = common::default_bundle();
    assert_eq!(load_code(&unsigned, &pinned), "bundle_bad_signature");

    let mut by_other = common::default_bundle();
    sign(&mut by_other, &other);
    assert_eq!(load_code(&by_other, &pinned), "bundle_bad_signature");

    let mut tampered = common::default_bundle();
    sign(&mut tampered, &trusted);
    common::edit_manifest(&mut tampered, |m| m["name"] = json!("rewritten"));
    assert_eq!(load_code(&tampered, &pinned), "bundle_bad_signature");

    let mut garbled = common::default_bundle();
    garbled.insert("manifest.sig".into(), b"not base64 at all!".to_vec());
    assert_eq!(load_code(&garbled, &pinned), "bundle_bad_signature");
    garbled.insert("manifest.sig".into(), STANDARD.encode([7u8; 12]).into_bytes());
    assert_eq!(load_code(&garbled, &pinned), "bundle_bad_signature");
}

#[test]
fn signature_is_checked_before_the_manifest_is_parsed() {
    let mut files = common::default_bundle();
    files.insert("manifest.json".into(), b"{ not json".to_vec());
    assert_eq!(load_code(&files, &keys(&[&signing_key(1)])), "bundle_bad_signature");
}

#[test]
fn malformed_public_keys_are_refused() {
    assert!(PublicKey::from_base64("AAAA").unwrap_err().contains("32"));
    assert!(PublicKey::from_base64("%%%").unwrap_err().contains("base64"));
    // The identity point is a weak key: it would accept forged signatures.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_base64(&STANDARD.encode(identity)).unwrap_err().contains("weak"));
}
