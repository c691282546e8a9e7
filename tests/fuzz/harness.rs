//! The fuzz harness: fuzzer bytes -> calls of edgerec's public API. The fuzz
//! targets (tests/fuzz/fuzz_targets) and the regression test
//! (tests/fuzz_regressions.rs) both call these functions, so every committed
//! corpus file and crash reproducer replays exactly as the fuzzer ran it.
//! A target must never panic: every input ends in `Ok` or an error.
//!
//! Bundle inputs (`bundle`, `engine`) are framed as
//!
//! ```text
//! <options JSON, may be empty>
//! %%file manifest.json
//! <bytes>
//! %%file catalog.json
//! <bytes>
//! ...
//! ```
//!
//! (each `%%file` line starts after a newline). Options are
//! `{ "limits": { "maxItems": 10, ... }, "publicKeys": [base64], "sign": true }`,
//! all optional. Before loading, every manifest `files` entry whose `sha256`
//! is `""` gets the size and SHA-256 of the file present, so mutations reach
//! the parsers behind the integrity check; other entries are left as they are,
//! so the mismatch paths stay reachable. With `"sign": true` the final
//! manifest is signed with a fixed test key, which is pinned.
#![allow(dead_code)] // each fuzz target uses one entry point

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use edgerec::bundle::{sha256_hex, Limits, LoadOptions, PublicKey, MANIFEST_PATH, SIGNATURE_PATH};
use edgerec::{Bundle, BundleFiles, Engine, EngineError, Recommendations};
use serde_json::Value;

/// Every target by name: the fuzz target binaries and the folders under
/// tests/fuzz/corpus and tests/fuzz/regressions carry the same names.
pub const TARGETS: &[(&str, Target)] =
    &[("manifest", manifest), ("bundle", bundle), ("engine", engine), ("search", search)];

/// A fuzz target: any input, an error or an answer, never a panic.
pub type Target = fn(&[u8]);

/// Starts each file of a framed bundle input.
pub const FILE_MARK: &[u8] = b"\n%%file ";

/// Test-only signing key for `"sign": true` inputs.
const TEST_SECRET: [u8; 32] = [7; 32];

/// Target `manifest`: the bytes as `manifest.json`, alone.
pub fn manifest(data: &[u8]) {
    let files = BundleFiles::from([(MANIFEST_PATH.to_owned(), data.to_vec())]);
    let _ = Bundle::from_files(&files);
}

/// Target `bundle`: a framed bundle through verification and decoding.
pub fn bundle(data: &[u8]) {
    let (options, files) = bundle_input(data);
    let _ = Bundle::from_files_with(&files, &options);
}

/// Target `engine`: a framed bundle through the whole load (models, fold-in,
/// search index, parity cases), then a few calls on what loaded.
pub fn engine(data: &[u8]) {
    let (options, files) = bundle_input(data);
    if let Ok(engine) = Engine::load_with(&files, &options) {
        exercise(&engine);
    }
}

/// Target `search`: calls on the committed bundle, loaded once. The first
/// line is `<call> <k>` (call: `search`, `similar`, `history`, `user`,
/// `next`, `nextall`; k defaults to 10), the second the query text, item or
/// user id, each further line an item id of the history (for `similar`: the
/// category).
pub fn search(data: &[u8]) {
    let engine = committed_engine();
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut header = lines.next().unwrap_or_default().split(' ');
    let call = header.next().unwrap_or_default();
    let k =
        header.next().and_then(|k| k.parse::<u64>().ok()).map_or(10, |k| k.try_into().unwrap_or(usize::MAX));
    let first = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.collect();
    let history: Vec<&str> = std::iter::once(first).chain(rest.iter().copied()).collect();
    let answer = match call {
        "similar" => engine.similar(first, k, rest.first().copied()),
        "history" => engine.for_history(&history, k),
        "user" => engine.for_user(first, k),
        "next" => engine.next_up(&history, k, true),
        "nextall" => engine.next_up(&history, k, false),
        _ => engine.search(first, k, &rest),
    };
    check_answer(answer, k);
}

/// Splits a framed input into load options and files, and fills in the
/// manifest entries left blank (see the module comment).
pub fn bundle_input(data: &[u8]) -> (LoadOptions, BundleFiles) {
    let (prefix, mut files) = unframe(data);
    let (mut options, sign) = load_options(prefix);
    fill_in_manifest(&mut files);
    if sign {
        sign_manifest(&mut files, &mut options);
    }
    (options, files)
}

/// The inverse of [`unframe`], for writing seeds.
pub fn frame(options: &str, files: &BundleFiles) -> Vec<u8> {
    let mut out = options.as_bytes().to_vec();
    for (path, bytes) in files {
        out.extend_from_slice(FILE_MARK);
        out.extend_from_slice(path.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(bytes);
    }
    out
}

/// The options prefix and the files of a framed input. A later file of the
/// same name replaces an earlier one.
pub fn unframe(data: &[u8]) -> (&[u8], BundleFiles) {
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&data[at..], FILE_MARK) {
        starts.push(at + found);
        at += found + FILE_MARK.len();
    }
    let prefix = &data[..starts.first().copied().unwrap_or(data.len())];
    let mut files = BundleFiles::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(data.len());
        let chunk = &data[start + FILE_MARK.len()..end];
        let (name, bytes) = match find(chunk, b"\n") {
            Some(newline) => (&chunk[..newline], &chunk[newline + 1..]),
            None => (chunk, &[][..]),
        };
        files.insert(String::from_utf8_lossy(name).into_owned(), bytes.to_vec());
    }
    (prefix, files)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Options from the prefix; anything unreadable means the defaults.
fn load_options(prefix: &[u8]) -> (LoadOptions, bool) {
    let Ok(value) = serde_json::from_slice::<Value>(prefix) else {
        return (LoadOptions::default(), false);
    };
    let limits = value
        .get("limits")
        .and_then(|limits| serde_json::from_value::<Limits>(limits.clone()).ok())
        .unwrap_or_default();
    let public_keys = value
        .get("publicKeys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter().filter_map(Value::as_str).filter_map(|k| PublicKey::from_base64(k).ok()).collect()
        })
        .unwrap_or_default();
    let sign = value.get("sign").and_then(Value::as_bool).unwrap_or(false);
    (LoadOptions { limits, public_keys }, sign)
}

/// Gives every manifest entry with an empty `sha256` the size and hash of
/// the file present under its path.
fn fill_in_manifest(files: &mut BundleFiles) {
    let Some(mut manifest) = files.get(MANIFEST_PATH).and_then(|m| serde_json::from_slice::<Value>(m).ok())
    else {
        return;
    };
    let Some(entries) = manifest.get_mut("files").and_then(Value::as_array_mut) else { return };
    let mut filled = false;
    for entry in entries {
        if entry.get("sha256").and_then(Value::as_str) != Some("") {
            continue;
        }
        let Some(bytes) = entry.get("path").and_then(Value::as_str).and_then(|path| files.get(path)) else {
            continue;
        };
        // An entry with a string "sha256" is an object, so indexing cannot panic.
        entry["bytes"] = bytes.len().into();
        entry["sha256"] = sha256_hex(bytes).into();
        filled = true;
    }
    if filled {
        let bytes = serde_json::to_vec(&manifest).expect("a parsed JSON value serialises");
        files.insert(MANIFEST_PATH.to_owned(), bytes);
    }
}

fn sign_manifest(files: &mut BundleFiles, options: &mut LoadOptions) {
    let Some(manifest) = files.get(MANIFEST_PATH) else { return };
    let key = SigningKey::from_bytes(&TEST_SECRET);
    let signature = STANDARD.encode(key.sign(manifest).to_bytes());
    files.insert(SIGNATURE_PATH.to_owned(), signature.into_bytes());
    let public = STANDARD.encode(key.verifying_key().to_bytes());
    options.public_keys.push(PublicKey::from_base64(&public).expect("the test key is a valid key"));
}

/// A few calls on an engine that loaded: what a page would ask first.
fn exercise(engine: &Engine) {
    let items = engine.catalog().items();
    let ids: Vec<&str> = items.iter().take(3).map(|item| item.id.as_str()).collect();
    let category = engine.catalog().categories().first().map(String::as_str);
    if let Some(&first) = ids.first() {
        check_answer(engine.similar(first, 5, None), 5);
        check_answer(engine.similar(first, 5, category), 5);
    }
    for case in &engine.manifest().parity.cases {
        if let edgerec::bundle::ParityCase::ForUser { user, .. } = case {
            check_answer(engine.for_user(user, 5), 5);
        }
    }
    check_answer(engine.for_history(&ids, 5), 5);
    check_answer(engine.next_up(&ids, 5, true), 5);
    let title = items.first().map_or("", |item| item.title.as_str());
    check_answer(engine.search(title, 5, &ids), 5);
    check_answer(engine.search(title, 5, &[] as &[&str]), 5);
}

/// What every answer promises: at most k items, no item twice, no NaN score.
fn check_answer(answer: Result<Recommendations, EngineError>, k: usize) {
    let Ok(answer) = answer else { return };
    assert!(answer.items.len() <= k, "{} items for k = {k}", answer.items.len());
    let mut ids: Vec<&str> = answer.items.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "an item came back twice: {:?}", answer.items);
    assert!(answer.items.iter().all(|r| !r.score.is_nan()), "NaN score: {:?}", answer.items);
}

macro_rules! committed_file {
    ($name:literal) => {
        ($name, &include_bytes!(concat!("../../models/channel/ml-100k/versions/1/", $name))[..])
    };
}

/// The committed demo bundle, loaded once per process.
pub fn committed_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::load(&committed_bundle()).expect("the committed bundle loads"))
}

/// The files of the committed demo bundle (models/channel/ml-100k/versions/1).
pub fn committed_bundle() -> BundleFiles {
    [
        committed_file!("manifest.json"),
        committed_file!("catalog.json"),
        committed_file!("users.json"),
        committed_file!("item_embeddings.f32"),
        committed_file!("item_factors.f32"),
        committed_file!("user_factors.f32"),
        committed_file!("next_up.onnx"),
        committed_file!("next_up_items.f32"),
    ]
    .into_iter()
    .map(|(path, bytes)| (path.to_owned(), bytes.to_vec()))
    .collect()
}
