//! A version split across shards answers what one engine holding every row
//! answers: the committed bundle (f32) and an int8 copy of it, split 1 to 7
//! ways, every split model, with and without merchandising rules. And a
//! shard refuses what it should: corrupted, short or long split files,
//! whole-version calls, malformed parts.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::bundle::{shard_of, LoadOptions, Shard};
use edgerec::engine::{QueryPart, Ranking};
use edgerec::rules::Rules;
use edgerec::shards::Shards;
use edgerec::{BundleFiles, Engine, Recommendations};
use serde_json::{json, Value};

/// The default bundle with int8 split matrices (scale = max |row| / 127),
/// its parity tolerance widened to int8's error.
fn int8_bundle() -> BundleFiles {
    let mut files = common::default_bundle();
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let specs = [
        ("similar", manifest["models"]["similar"]["embeddings"].clone()),
        ("factors", manifest["models"]["factors"]["items"].clone()),
        ("next_up", manifest["models"]["next_up"]["items"].clone()),
    ];
    for (model, spec) in specs {
        let (path, cols) =
            (spec["file"].as_str().unwrap().to_owned(), spec["cols"].as_u64().unwrap() as usize);
        let values: Vec<f32> =
            files[&path].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let mut codes = Vec::new();
        let mut scales = Vec::new();
        for row in values.chunks(cols) {
            let scale = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            codes.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8));
            scales.extend(scale.to_le_bytes());
        }
        codes.extend(scales);
        common::replace_file(&mut files, &path, codes);
        common::edit_manifest(&mut files, |m| {
            let spec = match model {
                "similar" => &mut m["models"]["similar"]["embeddings"],
                _ => &mut m["models"][model]["items"],
            };
            spec["dtype"] = json!("i8");
            m["parity"]["tolerance"] = json!(0.05);
        });
    }
    files
}

fn rules(value: Value) -> Rules {
    serde_json::from_value(value).unwrap()
}

/// Every split ranking the comparison asks, its k and rules, with the whole engine's answer.
fn questions(whole: &Engine) -> Vec<(Ranking, usize, Rules, Recommendations)> {
    let ids: Vec<String> = whole.catalog().items().iter().map(|item| item.id.clone()).collect();
    let rule_sets = [
        json!({}),
        json!({
            "filter": { "category": ["Drama", "Comedy", "Action"] },
            "boost": [{ "when": { "category": "Comedy" }, "weight": 0.05 }],
            "exclude": ["50", "100"],
            "pin": [{ "id": "2", "position": 0 }, { "id": "1500", "position": 2 }, { "id": "181", "position": 4 }],
        }),
    ];
    let mut questions = Vec::new();
    for (n, rule_set) in rule_sets.iter().enumerate() {
        let rules = rules(rule_set.clone());
        for row in (n..ids.len()).step_by(37) {
            let history: Vec<String> =
                (0..1 + row % 12).map(|i| ids[(row * 7 + i * 131) % ids.len()].clone()).collect();
            let category = (row % 3 == 0).then(|| "Drama".to_owned());
            let k = 1 + row % 25;
            let asked = [
                (Ranking::Similar { item: ids[row].clone(), category: category.clone() }, {
                    whole.similar_with(&ids[row], k, category.as_deref(), &rules)
                }),
                (
                    Ranking::ForHistory { history: history.clone() },
                    whole.for_history_with(&history, k, &rules),
                ),
                (
                    Ranking::NextUp { history: history.clone(), exclude_history: row % 2 == 0 },
                    whole.next_up_with(&history, k, row % 2 == 0, &rules),
                ),
                (
                    Ranking::ForUser { user: format!("{}", 1 + row % 900) },
                    whole.for_user_with(&format!("{}", 1 + row % 900), k, &rules),
                ),
            ];
            for (ranking, answer) in asked {
                questions.push((ranking, k, rules.clone(), answer.unwrap()));
            }
        }
        // No known item: what trends, from shard 0, under the same rules.
        if whole.models().contains(&"popularity") {
            let unknown = vec!["no such item".to_owned()];
            questions.push((
                Ranking::ForHistory { history: unknown.clone() },
                10,
                rules.clone(),
                whole.for_history_with(&unknown, 10, &rules).unwrap(),
            ));
            questions.push((
                Ranking::NextUp { history: Vec::new(), exclude_history: true },
                10,
                rules.clone(),
                whole.next_up_with(&[] as &[&str], 10, true, &rules).unwrap(),
            ));
        }
    }
    questions
}

fn assert_same_answers(files: &BundleFiles, counts: &[usize], score_tolerance: f32) {
    let whole = Engine::load(files).unwrap();
    let questions = questions(&whole);
    for &count in counts {
        let shards = Shards::load(files, &LoadOptions::default(), count).unwrap();
        for (ranking, k, rules, expected) in &questions {
            let got = shards.rank(ranking, *k, rules).unwrap();
            let ids =
                |answer: &Recommendations| answer.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(expected), "{count} shards, {ranking:?}");
            for (a, b) in got.items.iter().zip(&expected.items) {
                assert!(
                    (a.score - b.score).abs() <= score_tolerance,
                    "{count} shards, {ranking:?}: {a:?} vs {b:?}"
                );
            }
            assert_eq!(
                (&got.source, &got.skipped, &got.version),
                (&expected.source, &expected.skipped, &expected.version)
            );
        }
    }
}

#[test]
fn shards_answer_what_one_engine_answers_f32() {
    // Similar items, known users and next up sum nothing across shards:
    // their scores are the same bits. Fold-in sums VᵀV and Vᵀr per shard.
    assert_same_answers(&common::default_bundle(), &[1, 2, 3, 7], 1e-6);
}

#[test]
fn shards_answer_what_one_engine_answers_int8() {
    assert_same_answers(&int8_bundle(), &[2, 5], 1e-6);
}

#[test]
fn a_history_with_no_known_item_falls_back_to_what_trends_as_one_engine_does() {
    let (files, _) = common::with_popularity(&[]);
    assert_same_answers(&files, &[3], 1e-6);
}

#[test]
fn a_personalised_search_across_shards_is_the_whole_engines() {
    let files = common::default_bundle();
    let whole = Engine::load(&files).unwrap();
    let shards = Shards::load(&files, &LoadOptions::default(), 3).unwrap();
    let texts = ["star", "the", "love", "night of the", "godfather", "no such words here"];
    let histories: [&[&str]; 4] = [&[], &["1", "50", "181"], &["unknown", "100"], &["unknown"]];
    let boost = rules(
        json!({ "boost": [{ "when": { "category": "Comedy" }, "weight": 0.2 }], "pin": [{ "id": "3", "position": 1 }] }),
    );
    for text in texts {
        for history in histories {
            let history: Vec<String> = history.iter().map(|id| id.to_string()).collect();
            for rules in [Rules::default(), boost.clone()] {
                let expected = whole.search_with(text, 15, &history, &rules).unwrap();
                assert_eq!(
                    shards.search(text, 15, &history, &rules).unwrap(),
                    expected,
                    "{text:?} {history:?}"
                );
            }
        }
    }
}

#[test]
fn without_popularity_an_unknown_history_is_the_error_one_engine_gives() {
    let files = common::default_bundle();
    let shard = Engine::load_shard(
        &shard_of(&files, &LoadOptions::default(), Shard::new(1, 2).unwrap(), 999).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    let unknown = Ranking::ForHistory { history: vec!["no such item".into()] };
    // This bundle has no popularity to fall back on: the error one engine gives.
    assert_eq!(shard.query_part(&unknown).unwrap_err().code(), "empty_history");
}

#[test]
fn the_rows_split_evenly_and_cover_the_catalog() {
    for count in 1..=9 {
        let mut next = 0;
        for index in 0..count {
            let rows = Shard::new(index, count).unwrap().rows(1682);
            assert_eq!(rows.start, next);
            assert!(rows.len() == 1682 / count || rows.len() == 1682 / count + 1);
            next = rows.end;
        }
        assert_eq!(next, 1682);
    }
    assert!(Shard::new(2, 2).is_err() && Shard::new(0, 0).is_err());
}

#[test]
fn a_shard_refuses_bad_files_and_whole_version_calls() {
    let files = common::default_bundle();
    let options = LoadOptions::default();
    let shard = Shard::new(1, 3).unwrap();
    // One flipped byte outside the shard's rows is still caught: every file is hashed whole.
    let mut corrupted = files.clone();
    corrupted.get_mut("item_factors.f32").unwrap()[4] ^= 1;
    let error = shard_of(&corrupted, &options, shard, 4096).err().unwrap();
    assert_eq!(error.code(), "bundle_hash_mismatch", "{error}");
    let mut short = files.clone();
    short.get_mut("item_embeddings.f32").unwrap().pop();
    assert_eq!(shard_of(&short, &options, shard, 4096).err().unwrap().code(), "bundle_size_mismatch");
    let mut long = files.clone();
    long.get_mut("next_up_items.f32").unwrap().push(0);
    assert_eq!(shard_of(&long, &options, shard, 4096).err().unwrap().code(), "bundle_size_mismatch");
    let mut missing = files.clone();
    missing.remove("users.json");
    assert_eq!(shard_of(&missing, &options, shard, 4096).err().unwrap().code(), "bundle_missing_file");
    // Only shard 0 needs the encoder.
    let mut no_encoder = files.clone();
    no_encoder.remove("next_up.onnx");
    assert!(shard_of(&no_encoder, &options, shard, 4096).is_ok());
    assert!(shard_of(&no_encoder, &options, Shard::new(0, 3).unwrap(), 4096).is_err());

    let mut engine = Engine::load_shard(&shard_of(&files, &options, shard, 4096).unwrap(), &options).unwrap();
    assert_eq!(engine.similar("1", 10, None).unwrap_err().code(), "part_of_version");
    assert_eq!(engine.for_history(&["1"], 10).unwrap_err().code(), "part_of_version");
    assert_eq!(engine.next_up(&["1"], 10, true).unwrap_err().code(), "part_of_version");
    assert_eq!(engine.for_user("1", 10).unwrap_err().code(), "part_of_version");
    // Shard 0 alone holds the search index.
    assert_eq!(engine.search("star", 10, &[] as &[&str]).unwrap_err().code(), "part_of_version");
    // Before it has the whole VᵀV its factor model cannot fold in.
    let ranking = Ranking::ForHistory { history: vec!["1".into()] };
    assert_eq!(
        engine.scan_part(&ranking, 10, &Rules::default(), &[0.0; 32]).unwrap_err().code(),
        "bundle_degenerate_factors"
    );
    assert!(engine.complete_gram(&[1.0; 31]).is_err());
    assert!(engine.complete_gram(&[f64::NAN; 32 * 32]).is_err());
    let gram = engine.gram_part().unwrap();
    assert_eq!(gram.len(), 32 * 32);
    let similar = Ranking::Similar { item: "1".into(), category: None };
    let error = engine.scan_part(&similar, 10, &Rules::default(), &[0.0; 3]).unwrap_err();
    assert_eq!(error.code(), "invalid_argument", "{error}");
    // Item "1" is row 0: shard 1 of 3 does not hold it.
    assert_eq!(engine.query_part(&similar).unwrap(), QueryPart::Part(None));
}
