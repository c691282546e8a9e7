//! "Next up" on the committed bundle: tract runs the exported LSTM, the
//! kernel ranks; history edge cases behave as documented.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::{Engine, EngineError};

fn engine() -> Engine {
    Engine::load(&common::default_bundle()).expect("default bundle loads")
}

/// A real user's history, oldest first, as catalog ids.
fn real_history(engine: &Engine, len: usize) -> Vec<String> {
    let users: serde_json::Value = serde_json::from_slice(&common::default_bundle()["users.json"]).unwrap();
    let seen = users["seen"].as_array().unwrap().iter().find(|s| s.as_array().unwrap().len() >= len).unwrap();
    seen.as_array().unwrap()[..len]
        .iter()
        .map(|i| engine.catalog().item(i.as_u64().unwrap() as usize).id.clone())
        .collect()
}

#[test]
fn bundle_has_next_up_and_its_parity_cases_pass() {
    let engine = engine();
    assert!(engine.models().contains(&"next_up"));
    let cases = &engine.manifest().parity.cases;
    let next_up_cases =
        cases.iter().filter(|c| matches!(c, edgerec::bundle::ParityCase::NextUp { .. })).count();
    assert!(next_up_cases >= 5, "only {next_up_cases} next_up parity cases");
}

#[test]
fn answers_exclude_the_history_and_carry_the_version() {
    let engine = engine();
    let history = real_history(&engine, 8);
    let answer = engine.next_up(&history, 10, true).unwrap();
    assert_eq!(answer.items.len(), 10);
    assert_eq!(answer.version, engine.version());
    assert!(answer.items.iter().all(|r| !history.contains(&r.id)));
    assert!(answer.items.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn only_the_last_max_len_items_count() {
    let engine = engine();
    let max_len = engine.manifest().models.next_up.as_ref().unwrap().max_len as usize;
    let history = real_history(&engine, max_len + 20);
    let recent = &history[20..];
    let full = engine.next_up(&history, 10, false).unwrap();
    let truncated = engine.next_up(recent, 10, false).unwrap();
    assert_eq!(full.items, truncated.items);
    // ... and a different, shorter window does change the answer.
    let shorter = engine.next_up(&history[history.len() - 3..], 10, false).unwrap();
    assert_ne!(full.items, shorter.items);
}

#[test]
fn exclusion_of_the_history_is_configurable() {
    let engine = engine();
    let history = real_history(&engine, 30);
    let all = engine.next_up(&history, 200, false).unwrap();
    assert!(all.items.iter().any(|r| history.contains(&r.id)), "no history item among the top 200 at all");
    let excluded = engine.next_up(&history, 200, true).unwrap();
    assert!(excluded.items.iter().all(|r| !history.contains(&r.id)));
}

#[test]
fn empty_and_all_unknown_histories_are_clear_errors() {
    let engine = engine();
    assert_eq!(engine.next_up::<&str>(&[], 5, true).unwrap_err().code(), "empty_history");
    match engine.next_up(&["ghost-1", "ghost-2"], 5, true) {
        Err(EngineError::EmptyHistory { skipped }) => assert_eq!(skipped, vec!["ghost-1", "ghost-2"]),
        other => panic!("expected EmptyHistory, got {other:?}"),
    }
    let partly_known = engine.next_up(&["ghost-1", "1"], 5, true).unwrap();
    assert_eq!(partly_known.skipped, vec!["ghost-1"]);
    assert_eq!(partly_known.items.len(), 5);
}

#[test]
fn a_broken_encoder_is_refused_with_its_own_code() {
    let mut files = common::default_bundle();
    common::replace_file(&mut files, "next_up.onnx", b"this is not an onnx model".to_vec());
    match Engine::load(&files) {
        Err(e) => assert_eq!(e.code(), "bundle_bad_encoder", "{e}"),
        Ok(_) => panic!("a bundle with a garbage encoder was accepted"),
    }
}

/// A history that grows by one click is encoded by one LSTM step from the
/// cached state, and gives the full re-encode's query within 1e-5; anything
/// else (a changed item, a history past max_len's padding margin) is encoded
/// whole.
/// A maker of the bundle's encoder, each one new (no history encoded yet).
fn sequence_model(files: &edgerec::BundleFiles) -> impl Fn() -> edgerec::models::SequenceModel + '_ {
    move || {
        let parts = edgerec::Bundle::from_files(files).unwrap().next_up.unwrap();
        let encoder = parts.encoder.expect("the full build loads the encoder");
        edgerec::models::SequenceModel::new(encoder, parts.items, parts.max_len).unwrap()
    }
}

#[test]
fn a_click_costs_one_lstm_step_and_gives_the_full_encodes_answer() {
    use edgerec::models::Encoding;
    let files = common::default_bundle();
    let fresh = sequence_model(&files);
    let clicking = fresh();
    let engine = engine();
    let rows: Vec<usize> =
        real_history(&engine, 60).iter().map(|id| engine.catalog().index_of(id).unwrap()).collect();

    let mut steps = 0;
    let mut largest = 0f32;
    for len in 1..=rows.len() {
        let (query, how) = clicking.query_and_encoding(&rows[..len]).unwrap();
        let (whole, _) = fresh().query_and_encoding(&rows[..len]).unwrap();
        largest = query.iter().zip(&whole).map(|(a, b)| (a - b).abs()).fold(largest, f32::max);
        match how {
            Encoding::Steps(1) => steps += 1,
            Encoding::Full => {}
            other => panic!("history of {len}: {other:?}"),
        }
    }
    println!(
        "{steps} of {} clicks were one LSTM step; largest difference from a full encode {largest:.2e}",
        rows.len()
    );
    assert!(largest <= 1e-5, "{largest}");
    assert!(steps >= 20, "only {steps} clicks were one step");
    let (_, again) = clicking.query_and_encoding(&rows).unwrap();
    assert_eq!(again, Encoding::Cached);
    let mut changed = rows[..10].to_vec();
    changed[3] = rows[40];
    assert_eq!(
        clicking.query_and_encoding(&changed).unwrap().1,
        Encoding::Full,
        "a changed item is encoded whole"
    );
}

/// The encoder keeps its tract sessions between calls: one history's query
/// must not depend on what was encoded before it (a scan that carried its
/// state from run to run would make it so).
#[test]
fn a_query_does_not_depend_on_the_histories_encoded_before() {
    let files = common::default_bundle();
    let fresh = sequence_model(&files);
    let engine = engine();
    let rows: Vec<usize> =
        real_history(&engine, 60).iter().map(|id| engine.catalog().index_of(id).unwrap()).collect();
    let kept = fresh();
    // Unrelated histories (each a full encode), then clicks, then unrelated ones again.
    let histories: Vec<&[usize]> =
        vec![&rows[5..25], &rows[30..32], &rows[..10], &rows[..11], &rows[..12], &rows[40..60], &rows[1..9]];
    for history in histories {
        let query = kept.query(history).unwrap();
        assert_eq!(query, fresh().query(history).unwrap(), "history {history:?}");
    }
}
