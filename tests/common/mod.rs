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

pub const HAND_MADE_ITEMS: &[(&str, &str, &[&str])] = &[
    ("sku-a", "Apple", &["fruit"]),
    ("sku-b", "Banana", &["fruit"]),
    ("sku-c", "Carrot", &["veg"]),
    ("sku-d", "Date", &["fruit"]),
    ("sku-e", "Eggplant", &["veg"]),
    ("sku-f", "Fig", &["fruit", "dried"]),
];

/// Embeddings chosen so cosines are easy to see: a≈b, c≈e, d≈f.
pub const HAND_MADE_EMBEDDINGS: &[f32] = &[
    1.0, 0.0, 0.0, //
    2.0, 0.2, 0.0, //
    0.0, 1.0, 0.0, //
    0.0, 0.0, 3.0, //
    0.0, 1.0, 0.1, //
    0.5, 0.0, 1.0, //
];

/// The item factors of the numpy fold-in reference in tests/models.rs.
pub const HAND_MADE_FACTORS: &[f32] = &[
    1.0, 0.0, 0.5, //
    0.2, 1.0, 0.0, //
    0.0, 0.3, 1.0, //
    0.7, 0.7, 0.0, //
    0.0, 0.0, 0.4, //
    0.9, -0.2, 0.1, //
];

/// Six items, two known users, and parity cases worked out by hand: the
/// bundle tests/models.rs checks answers on and the fuzz seeds start from.
pub fn hand_made_bundle() -> BundleFiles {
    let users: &[(&str, &[f32], &[u32])] =
        &[("alice", &[1.0, 0.0, 0.0], &[0]), ("bob", &[0.0, 1.0, 0.0], &[1, 3])];
    HandMade {
        items: HAND_MADE_ITEMS,
        embeddings: HAND_MADE_EMBEDDINGS,
        embedding_dim: 3,
        item_factors: HAND_MADE_FACTORS,
        users,
        factor_dim: 3,
        fold_in_lambda: 0.5,
        // Worked out by hand: cosines against sku-a's [1, 0, 0], and alice's
        // factor [1, 0, 0] picking the first factor column.
        parity: json!({ "k": 3, "tolerance": 1e-4, "cases": [
            { "kind": "similar", "item": "sku-a", "expected": [
                { "id": "sku-b", "score": 0.995037 }, { "id": "sku-f", "score": 0.447214 },
                { "id": "sku-c", "score": 0.0 } ] },
            { "kind": "for_user", "user": "alice", "expected": [
                { "id": "sku-f", "score": 0.9 }, { "id": "sku-d", "score": 0.7 },
                { "id": "sku-b", "score": 0.2 } ] },
        ] }),
    }
    .build()
}

/// Column 0 trending (each item's users, weighted by 1/(1 + row % 5), so
/// trending and popularity order differ), column 1 popularity (its users).
/// Rows in `cold` have no recent events: trending 0, popularity kept.
fn popularity(files: &BundleFiles, cold: &[usize]) -> Vec<[f32; 2]> {
    let users: Value = serde_json::from_slice(&files["users.json"]).unwrap();
    let mut counts = vec![0f32; 1682];
    for seen in users["seen"].as_array().unwrap() {
        for row in seen.as_array().unwrap() {
            counts[row.as_u64().unwrap() as usize] += 1.0;
        }
    }
    let trending = |row: usize, c: f32| if cold.contains(&row) { 0.0 } else { c / (1 + row % 5) as f32 };
    counts.iter().enumerate().map(|(row, &c)| [trending(row, c), c]).collect()
}

/// The best k rows by `scores` among `allowed`: higher first, lower row on ties.
pub fn ranked(scores: &[f32], allowed: impl Fn(usize) -> bool, k: usize) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..scores.len()).filter(|&row| allowed(row)).collect();
    rows.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    rows.truncate(k);
    rows
}

/// The committed bundle given a popularity file (scores from [`popularity`])
/// and two trending parity cases; also the scores, per row.
pub fn with_popularity(cold: &[usize]) -> (BundleFiles, Vec<[f32; 2]>) {
    let mut files = default_bundle();
    let scores = popularity(&files, cold);
    let bundle = edgerec::Bundle::from_files(&files).unwrap();
    let ids: Vec<String> = bundle.catalog.items().iter().map(|item| item.id.clone()).collect();
    let trending: Vec<f32> = scores.iter().map(|s| s[0]).collect();
    let expected = |rows: Vec<usize>| -> Value {
        rows.iter().map(|&row| json!({ "id": ids[row], "score": trending[row] })).collect()
    };
    let drama = |row: usize| bundle.catalog.item(row).categories.iter().any(|c| c == "Drama");
    let cases = [
        json!({ "kind": "trending", "category": null, "expected": expected(ranked(&trending, |_| true, 10)) }),
        json!({ "kind": "trending", "category": "Drama", "expected": expected(ranked(&trending, drama, 10)) }),
    ];
    files.insert("popularity.f32".into(), Vec::new());
    edit_manifest(&mut files, |m| {
        m["files"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "path": "popularity.f32", "bytes": 0, "sha256": "" }));
        m["models"]["popularity"] = json!({ "scores": { "file": "popularity.f32", "rows": 1682, "cols": 2, "dtype": "f32" }, "half_life_days": 7 });
        m["parity"]["cases"].as_array_mut().unwrap().extend(cases);
    });
    replace_file(&mut files, "popularity.f32", f32_bytes(&scores.concat()));
    (files, scores)
}
