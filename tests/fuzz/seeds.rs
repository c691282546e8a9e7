//! Seed inputs for the fuzz targets: small bundles cut from the committed
//! one (first items and users, real matrix rows, parity cases recomputed so
//! they load), the hand-made bundle of tests/models.rs and a few variants
//! (signed, limits at the edge, newer minor format), and calls for `search`.
//! Written to tests/fuzz/corpus/<target>/seed-* (and the built crash
//! reproducers to tests/fuzz/regressions/) by the ignored test `write_seeds`
//! in tests/fuzz_regressions.rs.

use std::path::Path;

use edgerec::{BundleFiles, Engine};
use serde_json::{json, Value};

use super::common::{f32_bytes, hand_made_bundle, HAND_MADE_EMBEDDINGS};
use super::harness::{bundle_input, committed_bundle, frame};

type Seed = (&'static str, Vec<u8>);

/// Columns of the committed bundle's matrices.
const EMBEDDING_DIM: usize = 64;
const FACTOR_DIM: usize = 32;

/// Tiny next-up encoders (tests/fuzz/encoders/make.py): embedding tables of
/// 7 rows (padding + the 6 hand-made items) and of 3 rows (too few).
const ENCODER_7_ROWS: &[u8] = include_bytes!("encoders/gather-last-7.onnx");
const ENCODER_3_ROWS: &[u8] = include_bytes!("encoders/gather-last-3.onnx");

/// Writes the seeds into `<fuzz_dir>/corpus/<target>/` and the built
/// reproducers into `<fuzz_dir>/regressions/engine/`.
pub fn write(fuzz_dir: &Path) {
    let targets = [
        ("manifest", manifest_seeds()),
        ("bundle", bundle_seeds()),
        ("engine", engine_seeds()),
        ("search", search_seeds()),
    ];
    for (target, seeds) in targets {
        let folder = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&folder).unwrap();
        for (name, bytes) in seeds {
            assert!(bytes.len() <= 64 * 1024, "seed {target}/{name} is {} bytes", bytes.len());
            std::fs::write(folder.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let regressions = fuzz_dir.join("regressions/engine");
    std::fs::create_dir_all(&regressions).unwrap();
    for (name, bytes) in engine_regressions() {
        std::fs::write(regressions.join(name), bytes).unwrap();
    }
}

pub fn manifest_seeds() -> Vec<Seed> {
    let mut seeds = vec![("committed", committed_bundle()["manifest.json"].clone())];
    for (name, input) in bundle_seeds() {
        let manifest = bundle_input(&input).1["manifest.json"].clone();
        if seeds.iter().all(|(_, seen)| *seen != manifest) {
            seeds.push((name, manifest));
        }
    }
    seeds
}

pub fn bundle_seeds() -> Vec<Seed> {
    vec![
        ("cut-50", frame("", &cut_committed(50, Some(30), 5))),
        ("cut-8", frame("", &cut_committed(8, Some(4), 3))),
        ("cut-shop-20", frame("", &cut_committed(20, None, 5))),
        ("hand-made", frame("", &hand_made())),
        ("hand-made-signed", frame(r#"{"sign":true}"#, &hand_made())),
        ("hand-made-limits", frame(EDGE_LIMITS, &hand_made())),
        ("newer-minor", frame("", &newer_minor())),
        ("attributes", frame("", &with_attributes())),
        ("next-up-parts", frame("", &with_next_up_parts())),
    ]
}

pub fn engine_seeds() -> Vec<Seed> {
    vec![
        ("cut-100", frame("", &cut_committed(100, Some(40), 5))),
        ("cut-30", frame("", &cut_committed(30, Some(20), 5))),
        ("cut-shop-60", frame("", &cut_committed(60, None, 5))),
        ("hand-made", frame("", &hand_made())),
        ("hand-made-signed", frame(r#"{"sign":true}"#, &hand_made())),
        ("newer-minor", frame("", &newer_minor())),
        ("attributes", frame("", &with_attributes())),
        ("next-up-tiny", frame("", &with_tiny_encoder(ENCODER_7_ROWS))),
    ]
}

/// Crash reproducers built rather than found (`regressions/engine/`); each
/// names the bug it guards against.
pub fn engine_regressions() -> Vec<Seed> {
    // Loads (its parity case stays within the table), then a history with
    // the third item asks the encoder for a token past its embedding table.
    vec![("next-up-table-smaller-than-catalog", frame("", &with_tiny_encoder(ENCODER_3_ROWS)))]
}

/// A title with one term 65 536 times: more than a u16 term count holds.
/// Over 128 KB, so built here instead of committed as a file.
pub fn repeated_term_input() -> Vec<u8> {
    let mut files = hand_made();
    let mut catalog: Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    catalog["items"][1]["title"] = json!("a ".repeat(65_536));
    files.insert("catalog.json".into(), serde_json::to_vec(&catalog).unwrap());
    frame("", &files)
}

pub fn search_seeds() -> Vec<Seed> {
    let seeds: [(&str, &str); 9] = [
        ("search", "search 10\nstar wars"),
        ("search-personal", "search 10\nstar\n50\n172\n181"),
        ("search-unicode", "search 3\nAmélie Ça ß 東京 (1995)\nnot-an-id"),
        ("similar", "similar 10\n50"),
        ("similar-category", "similar 5\n313\nSci-Fi"),
        ("history", "history 10\n50\n172\n181\n50\nunknown"),
        ("user", "user 10\n1"),
        ("next", "next 10\n50\n172\n181"),
        ("nextall", "nextall 1\n1"),
    ];
    seeds.into_iter().map(|(name, text)| (name, text.as_bytes().to_vec())).collect()
}

/// Limits exactly at the hand-made bundle's sizes: it loads, one more of
/// anything does not.
const EDGE_LIMITS: &str = r#"{"limits":{"maxItems":6,"maxDim":3,"maxUsers":2,"maxCategories":3,
"maxCategoryMemberships":7,"maxParityCases":2,"maxFiles":5,"maxFileBytes":400,"maxBundleBytes":1000,
"maxManifestBytes":4096}}"#;

fn hand_made() -> BundleFiles {
    let mut files = hand_made_bundle();
    edit_manifest(&mut files, blank_entries);
    files
}

/// A minor format this engine has not seen: unknown fields and an unknown
/// parity kind, which must be ignored.
fn newer_minor() -> BundleFiles {
    let mut files = hand_made();
    edit_manifest(&mut files, |m| {
        m["format"] = json!("edgerec-bundle/1.7");
        m["publisher"] = json!({ "name": "a newer tool" });
        m["models"]["similar"]["embeddings"]["normalised"] = json!(false);
        m["parity"]["cases"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "kind": "bought_together", "items": ["sku-a"] }));
    });
    files
}

/// Catalog items with typed shop attributes next to id, title and categories.
fn with_attributes() -> BundleFiles {
    let mut files = hand_made();
    let mut catalog: Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    let items = catalog["items"].as_array_mut().unwrap();
    items[0]["price"] = json!(1.25);
    items[0]["brand"] = json!("Orchard");
    items[1]["available"] = json!(false);
    items[2]["price"] = json!(0);
    files.insert("catalog.json".into(), serde_json::to_vec(&catalog).unwrap());
    files
}

/// The hand-made bundle with a next-up model: a tiny ONNX encoder over the
/// embeddings as the output item matrix. Token t = row + 1 encodes to the
/// unit vector of axis (t - 1) % 3, so after sku-a the query is [1, 0, 0].
fn with_tiny_encoder(encoder: &[u8]) -> BundleFiles {
    let mut files = hand_made();
    files.insert("next_up.onnx".into(), encoder.to_vec());
    files.insert("next_up_items.f32".into(), f32_bytes(HAND_MADE_EMBEDDINGS));
    edit_manifest(&mut files, |m| {
        for path in ["next_up.onnx", "next_up_items.f32"] {
            m["files"].as_array_mut().unwrap().push(json!({ "path": path, "bytes": 0, "sha256": "" }));
        }
        m["models"]["next_up"] = json!({
            "encoder": "next_up.onnx",
            "items": { "file": "next_up_items.f32", "rows": 6, "cols": 3, "dtype": "f32" },
            "max_len": 4,
        });
        m["parity"]["cases"].as_array_mut().unwrap().push(json!({
            "kind": "next_up", "history": ["sku-a"], "expected": [
                { "id": "sku-b", "score": 2.0 }, { "id": "sku-f", "score": 0.5 },
                { "id": "sku-c", "score": 0.0 } ] }));
    });
    files
}

/// The hand-made bundle plus next-up parts (an encoder that is not ONNX):
/// `Bundle` only checks them; `Engine` would refuse the encoder.
fn with_next_up_parts() -> BundleFiles {
    let mut files = hand_made();
    files.insert("next.onnx".into(), b"\x08\x07not onnx".to_vec());
    files.insert("next_items.f32".into(), f32_bytes(HAND_MADE_EMBEDDINGS));
    edit_manifest(&mut files, |m| {
        for path in ["next.onnx", "next_items.f32"] {
            m["files"].as_array_mut().unwrap().push(json!({ "path": path, "bytes": 0, "sha256": "" }));
        }
        m["models"]["next_up"] = json!({
            "encoder": "next.onnx",
            "items": { "file": "next_items.f32", "rows": 6, "cols": 3, "dtype": "f32" },
            "max_len": 4,
        });
        m["parity"]["cases"].as_array_mut().unwrap().push(json!({
            "kind": "next_up", "history": ["sku-a"], "expected": [{ "id": "sku-b", "score": 1.0 }] }));
    });
    files
}

/// The committed bundle's first `items` items and `users` known users (none:
/// a shop bundle, which names no shopper) with their real matrix rows,
/// without the next-up model, parity cases recomputed with this engine at k.
fn cut_committed(items: usize, users: Option<usize>, k: usize) -> BundleFiles {
    let full = committed_bundle();
    let json = |path: &str| serde_json::from_slice::<Value>(&full[path]).unwrap();
    let rows = |path: &str, count: usize, cols: usize| full[path][..count * cols * 4].to_vec();
    let mut catalog = json("catalog.json");
    catalog["items"].as_array_mut().unwrap().truncate(items);
    let mut files = BundleFiles::new();
    files.insert("catalog.json".into(), serde_json::to_vec(&catalog).unwrap());
    files.insert("item_embeddings.f32".into(), rows("item_embeddings.f32", items, EMBEDDING_DIM));
    files.insert("item_factors.f32".into(), rows("item_factors.f32", items, FACTOR_DIM));
    let mut manifest = json("manifest.json");
    let models = &mut manifest["models"];
    models.as_object_mut().unwrap().remove("next_up");
    models["similar"]["embeddings"]["rows"] = json!(items);
    models["factors"]["items"]["rows"] = json!(items);
    let users_list = users.map(|users| {
        let mut list = json("users.json");
        list["ids"].as_array_mut().unwrap().truncate(users);
        let seen = list["seen"].as_array_mut().unwrap();
        seen.truncate(users);
        for items_seen in seen.iter_mut() {
            items_seen.as_array_mut().unwrap().retain(|i| (i.as_u64().unwrap() as usize) < items);
        }
        files.insert("users.json".into(), serde_json::to_vec(&list).unwrap());
        files.insert("user_factors.f32".into(), rows("user_factors.f32", users, FACTOR_DIM));
        list
    });
    match users {
        Some(users) => models["factors"]["users"]["rows"] = json!(users),
        None => {
            let factors = models["factors"].as_object_mut().unwrap();
            factors.remove("users");
            factors.remove("users_file");
        }
    }
    manifest["item_count"] = json!(items);
    manifest["files"] = files.keys().map(|path| json!({ "path": path, "bytes": 0, "sha256": "" })).collect();
    manifest["parity"] = parity_cases(&catalog, users_list.as_ref(), k);
    files.insert("manifest.json".into(), serde_json::to_vec_pretty(&manifest).unwrap());
    recompute_parity(files)
}

/// Inputs for cases every cut keeps k answers for; expected answers are
/// placeholders until [`recompute_parity`].
fn parity_cases(catalog: &Value, users_list: Option<&Value>, k: usize) -> Value {
    let items = catalog["items"].as_array().unwrap();
    let id = |i: usize| items[i]["id"].clone();
    let placeholder: Vec<Value> = (0..k).map(|_| json!({ "id": "?", "score": 0.0 })).collect();
    let mut cases = vec![
        json!({ "kind": "similar", "item": id(0), "category": null, "expected": placeholder }),
        json!({ "kind": "for_history", "history": [id(0), id(1), id(2)], "expected": placeholder }),
    ];
    if let Some(category) = category_with_more_than(items, k) {
        cases
            .push(json!({ "kind": "similar", "item": id(1), "category": category, "expected": placeholder }));
    }
    if let Some(list) = users_list {
        let seen = list["seen"].as_array().unwrap();
        if let Some(user) = seen.iter().position(|s| s.as_array().unwrap().len() + k <= items.len()) {
            cases.push(json!({ "kind": "for_user", "user": list["ids"][user], "expected": placeholder }));
        }
    }
    json!({ "k": k, "tolerance": 1e-4, "cases": cases })
}

/// A category of item 1 with more than k other members.
fn category_with_more_than(items: &[Value], k: usize) -> Option<String> {
    let members = |name: &str| {
        items
            .iter()
            .skip(2)
            .filter(|item| item["categories"].as_array().unwrap().iter().any(|c| c == name))
            .count()
    };
    let categories = items[1]["categories"].as_array().unwrap();
    categories.iter().map(|c| c.as_str().unwrap().to_owned()).find(|c| members(c) > k)
}

/// Loads with a tolerance that accepts any k answers, then writes the
/// engine's real answers into the parity cases.
fn recompute_parity(mut files: BundleFiles) -> BundleFiles {
    let mut loose = files.clone();
    edit_manifest(&mut loose, |m| m["parity"]["tolerance"] = json!(1e30));
    let (options, verified) = bundle_input(&frame("", &loose));
    let engine = Engine::load_with(&verified, &options).expect("a cut bundle loads");
    let k = engine.manifest().parity.k;
    edit_manifest(&mut files, |m| {
        for case in m["parity"]["cases"].as_array_mut().unwrap() {
            let text = |v: &Value| v.as_str().unwrap().to_owned();
            let answer = match case["kind"].as_str().unwrap() {
                "similar" => engine.similar(&text(&case["item"]), k, case["category"].as_str()),
                "for_user" => engine.for_user(&text(&case["user"]), k),
                _ => {
                    let history: Vec<String> = case["history"].as_array().unwrap().iter().map(text).collect();
                    engine.for_history(&history, k)
                }
            };
            let answer = answer.expect("a parity input the engine answers");
            case["expected"] = answer.items.iter().map(|r| json!({ "id": r.id, "score": r.score })).collect();
        }
    });
    files
}

fn edit_manifest(files: &mut BundleFiles, edit: impl FnOnce(&mut Value)) {
    let mut manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    edit(&mut manifest);
    files.insert("manifest.json".into(), serde_json::to_vec_pretty(&manifest).unwrap());
}

/// Leaves every entry's size and hash for the harness to fill in.
fn blank_entries(manifest: &mut Value) {
    for entry in manifest["files"].as_array_mut().unwrap() {
        entry["bytes"] = json!(0);
        entry["sha256"] = json!("");
    }
}
