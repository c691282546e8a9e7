//! Every way a bundle can be broken gives its own typed error, naming the
//! file and what was wrong. Each case starts from the real default bundle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::{Bundle, BundleError, BundleFiles};
use serde_json::json;

fn load_error(files: &BundleFiles) -> BundleError {
    match Bundle::from_files(files) {
        Ok(_) => panic!("a broken bundle was accepted"),
        Err(e) => e,
    }
}

#[test]
fn default_bundle_verifies() {
    Bundle::from_files(&common::default_bundle()).unwrap();
}

#[test]
fn truncated_file_is_a_size_mismatch() {
    let mut files = common::default_bundle();
    files.get_mut("item_factors.f32").unwrap().truncate(1000);
    let e = load_error(&files);
    assert!(
        matches!(&e, BundleError::SizeMismatch { path, actual: 1000, .. } if path == "item_factors.f32"),
        "{e}"
    );
    assert_eq!(e.code(), "bundle_size_mismatch");
    assert!(e.to_string().contains("item_factors.f32"));
}

#[test]
fn flipped_byte_is_a_hash_mismatch() {
    let mut files = common::default_bundle();
    files.get_mut("catalog.json").unwrap()[100] ^= 0x01;
    let e = load_error(&files);
    assert!(matches!(&e, BundleError::HashMismatch { path, .. } if path == "catalog.json"), "{e}");
    assert_eq!(e.code(), "bundle_hash_mismatch");
}

#[test]
fn missing_file_is_named() {
    let mut files = common::default_bundle();
    files.remove("users.json");
    let e = load_error(&files);
    assert!(matches!(&e, BundleError::MissingFile { path } if path == "users.json"), "{e}");
    assert_eq!(e.code(), "bundle_missing_file");
}

/// Only the core build may do without them (tests/core_build.rs).
#[cfg(feature = "next-up")]
#[test]
fn the_full_build_needs_next_ups_files() {
    for path in ["next_up.onnx", "next_up_items.f32"] {
        let mut files = common::default_bundle();
        files.remove(path);
        let e = load_error(&files);
        assert!(matches!(&e, BundleError::MissingFile { path: missing } if missing == path), "{e}");
    }
}

#[test]
fn missing_or_malformed_manifest() {
    let mut files = common::default_bundle();
    files.insert("manifest.json".into(), b"{ \"format\": ".to_vec());
    assert_eq!(load_error(&files).code(), "bundle_malformed_manifest");
    files.remove("manifest.json");
    assert_eq!(load_error(&files).code(), "bundle_missing_manifest");
}

#[test]
fn unknown_format_is_refused() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["format"] = json!("edgerec-bundle/99"));
    assert_eq!(load_error(&files).code(), "bundle_unsupported_format");
}

#[test]
fn wrong_dimensions_are_refused() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["similar"]["embeddings"]["cols"] = json!(63));
    let e = load_error(&files);
    assert!(matches!(&e, BundleError::WrongDimensions { path, .. } if path == "item_embeddings.f32"), "{e}");

    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["similar"]["content_columns"] = json!(65));
    let e = load_error(&files);
    assert!(matches!(&e, BundleError::WrongDimensions { path, .. } if path == "item_embeddings.f32"), "{e}");
    assert!(e.to_string().contains("content_columns is 65"), "{e}");

    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["items"]["rows"] = json!(1681));
    assert_eq!(load_error(&files).code(), "bundle_wrong_dimensions");
}

#[test]
fn item_count_must_match_the_catalog() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["item_count"] = json!(1683));
    let e = load_error(&files);
    assert_eq!(e.code(), "bundle_inconsistent");
    assert!(e.to_string().contains("1682"), "{e}");
}

#[test]
fn nan_in_a_matrix_is_refused_even_with_a_correct_hash() {
    let mut files = common::default_bundle();
    let mut bytes = files["item_embeddings.f32"].clone();
    bytes[4 * 70..4 * 71].copy_from_slice(&f32::NAN.to_le_bytes()); // row 1, column 6
    common::replace_file(&mut files, "item_embeddings.f32", bytes);
    let e = load_error(&files);
    assert_eq!(e.code(), "bundle_non_finite");
    assert!(e.to_string().contains("row 1, column 6"), "{e}");
}

/// The default bundle with its item factors stored as int8 (`i8`: values,
/// then one f32 scale per row).
fn with_int8_factors(edit_bytes: impl FnOnce(&mut Vec<u8>)) -> BundleFiles {
    let mut files = common::default_bundle();
    let bundle = Bundle::from_files(&files).unwrap();
    let items = &bundle.factors.unwrap().items;
    let values: Vec<f32> = (0..items.rows()).flat_map(|row| items.row(row)).collect();
    let mut bytes: Vec<u8> = Vec::new();
    let mut scales: Vec<u8> = Vec::new();
    for row in values.chunks(items.cols()) {
        let scale = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
        bytes.extend(row.iter().map(|v| (v / scale).round() as i8 as u8));
        scales.extend(scale.to_le_bytes());
    }
    bytes.extend(scales);
    edit_bytes(&mut bytes);
    files.remove("item_factors.f32");
    files.insert("item_factors.i8".into(), Vec::new());
    common::edit_manifest(&mut files, |m| {
        m["models"]["factors"]["items"]["file"] = json!("item_factors.i8");
        m["models"]["factors"]["items"]["dtype"] = json!("i8");
        for entry in m["files"].as_array_mut().unwrap() {
            if entry["path"] == "item_factors.f32" {
                entry["path"] = json!("item_factors.i8");
            }
        }
    });
    common::replace_file(&mut files, "item_factors.i8", bytes);
    files
}

#[test]
fn int8_item_matrices_load_and_bad_ones_are_refused() {
    let rows = 1682;
    let files = with_int8_factors(|_| {});
    let bundle = Bundle::from_files(&files).expect("an i8 item matrix loads");
    assert!(matches!(bundle.factors.unwrap().items, edgerec::kernel::ItemMatrix::I8(_)));

    let e = load_error(&with_int8_factors(|bytes| bytes.truncate(bytes.len() - 1)));
    assert_eq!(e.code(), "bundle_wrong_dimensions", "{e}");
    assert!(e.to_string().contains("i8 values and row scales"), "{e}");

    let at = rows * 32 + 4 * 5; // the scale of row 5
    for bad in [f32::NAN, -1.0, f32::INFINITY] {
        let e = load_error(&with_int8_factors(|bytes| bytes[at..at + 4].copy_from_slice(&bad.to_le_bytes())));
        assert_eq!(e.code(), "bundle_non_finite", "{e}");
        assert!(e.to_string().contains("row 5"), "{e}");
    }

    let mut files = with_int8_factors(|_| {});
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["items"]["dtype"] = json!("i4"));
    assert_eq!(load_error(&files).code(), "bundle_unsupported_dtype");
    // Known users' factors are f32 only.
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["users"]["dtype"] = json!("i8"));
    assert_eq!(load_error(&files).code(), "bundle_unsupported_dtype");
}

#[test]
fn duplicate_catalog_ids_are_refused() {
    let mut files = common::default_bundle();
    let text = String::from_utf8(files["catalog.json"].clone()).unwrap();
    let duplicated = text.replacen("{\"id\":\"2\"", "{\"id\":\"1\"", 1);
    assert_ne!(text, duplicated);
    common::replace_file(&mut files, "catalog.json", duplicated.into_bytes());
    assert_eq!(load_error(&files).code(), "bundle_bad_catalog");
}

#[test]
fn seen_items_outside_the_catalog_are_refused() {
    let mut files = common::default_bundle();
    common::replace_file(
        &mut files,
        "users.json",
        serde_json::to_vec(&json!({
            "ids": (1..=943).map(|i| i.to_string()).collect::<Vec<_>>(),
            "seen": (0..943).map(|_| vec![5000]).collect::<Vec<_>>(),
        }))
        .unwrap(),
    );
    let e = load_error(&files);
    assert_eq!(e.code(), "bundle_inconsistent");
    assert!(e.to_string().contains("5000"), "{e}");
}

#[test]
fn model_file_not_listed_in_the_manifest_is_refused() {
    let mut files = common::default_bundle();
    common::edit_manifest(&mut files, |m| m["models"]["factors"]["users_file"] = json!("elsewhere.json"));
    let e = load_error(&files);
    assert!(matches!(&e, BundleError::UnlistedFile { path } if path == "elsewhere.json"), "{e}");
}
