//! Fixtures shared by the native tests, the wasm tests in a page and the
//! wasm tests in a worker: the committed default bundle, and a builder for
//! small hand-made bundles with known answers.
#![allow(dead_code)] // each test binary uses a different subset

use edgerec::bundle::sha256_hex;
use edgerec::BundleFiles;
use serde_json::{json, Value};

macro_rules! default_bundle_file {
    ($name:literal) => {
        ($name, &include_bytes!(concat!("../../models/channel/ml-100k/versions/1/", $name))[..])
    };
}

/// The committed MovieLens-100K demo bundle, embedded so wasm tests can use it.
pub fn default_bundle() -> BundleFiles {
    [
        default_bundle_file!("manifest.json"),
        default_bundle_file!("catalog.json"),
        default_bundle_file!("users.json"),
        default_bundle_file!("item_embeddings.f32"),
        default_bundle_file!("item_factors.f32"),
        default_bundle_file!("user_factors.f32"),
        default_bundle_file!("next_up.onnx"),
        default_bundle_file!("next_up_items.f32"),
    ]
    .into_iter()
    .map(|(path, bytes)| (path.to_owned(), bytes.to_vec()))
    .collect()
}

/// Parses the manifest of `files`, lets `edit` change it, writes it back.
pub fn edit_manifest(files: &mut BundleFiles, edit: impl FnOnce(&mut Value)) {
    let mut manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    edit(&mut manifest);
    files.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
}

/// Replaces a file and updates its size and hash in the manifest, so only
/// the content (not the integrity check) is what a test exercises.
pub fn replace_file(files: &mut BundleFiles, path: &str, bytes: Vec<u8>) {
    let (len, hash) = (bytes.len(), sha256_hex(&bytes));
    files.insert(path.to_owned(), bytes);
    edit_manifest(files, |m| {
        for entry in m["files"].as_array_mut().unwrap() {
            if entry["path"] == path {
                entry["bytes"] = json!(len);
                entry["sha256"] = json!(hash);
            }
        }
    });
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A small bundle: `items` as (id, title, categories), embeddings and item
/// factors row-major, users as (id, factor row, seen item indices).
pub struct HandMade<'a> {
    pub items: &'a [(&'a str, &'a str, &'a [&'a str])],
    pub embeddings: &'a [f32],
    pub embedding_dim: usize,
    pub item_factors: &'a [f32],
    pub users: &'a [(&'a str, &'a [f32], &'a [u32])],
    pub factor_dim: usize,
    pub fold_in_lambda: f64,
    pub parity: Value,
}

impl HandMade<'_> {
    pub fn build(&self) -> BundleFiles {
        let catalog = json!({ "items": self.items.iter().map(|(id, title, categories)| {
            json!({ "id": id, "title": title, "categories": categories })
        }).collect::<Vec<_>>() });
        let users = json!({
            "ids": self.users.iter().map(|u| u.0).collect::<Vec<_>>(),
            "seen": self.users.iter().map(|u| u.2).collect::<Vec<_>>(),
        });
        let user_factors: Vec<f32> = self.users.iter().flat_map(|u| u.1.iter().copied()).collect();
        let mut files = BundleFiles::new();
        files.insert("catalog.json".into(), serde_json::to_vec(&catalog).unwrap());
        files.insert("users.json".into(), serde_json::to_vec(&users).unwrap());
        files.insert("emb.f32".into(), f32_bytes(self.embeddings));
        files.insert("items.f32".into(), f32_bytes(self.item_factors));
        files.insert("users.f32".into(), f32_bytes(&user_factors));
        let entries: Vec<Value> = files
            .iter()
            .map(|(path, bytes)| json!({ "path": path, "bytes": bytes.len(), "sha256": sha256_hex(bytes) }))
            .collect();
        let n = self.items.len();
        let manifest = json!({
            "format": "edgerec-bundle/1",
            "name": "hand-made",
            "version": "test-1",
            "created": "2026-01-01T00:00:00Z",
            "item_count": n,
            "files": entries,
            "models": {
                "similar": { "embeddings": { "file": "emb.f32", "rows": n, "cols": self.embedding_dim, "dtype": "f32" } },
                "factors": {
                    "items": { "file": "items.f32", "rows": n, "cols": self.factor_dim, "dtype": "f32" },
                    "users": { "file": "users.f32", "rows": self.users.len(), "cols": self.factor_dim, "dtype": "f32" },
                    "users_file": "users.json",
                    "fold_in_lambda": self.fold_in_lambda,
                },
            },
            "parity": self.parity,
        });
        files.insert("manifest.json".into(), serde_json::to_vec_pretty(&manifest).unwrap());
        files
    }
}

/// Parity cases of a bundle as (label, call, expected), so page, worker and
/// native runners check the same cases the same way.
pub fn parity_cases(files: &BundleFiles) -> (usize, f32, Vec<edgerec::bundle::ParityCase>) {
    let manifest: edgerec::bundle::Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    (manifest.parity.k, manifest.parity.tolerance, manifest.parity.cases)
}

#[cfg(target_arch = "wasm32")]
pub mod js;
