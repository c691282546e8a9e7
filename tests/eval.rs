//! The evaluation code against hand-computed cases, and the `edgerec eval`
//! command on a small slice of real data.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::borrow::Cow;

use edgerec::eval::{evaluate, parse_sequences, popularity, rank_of, MetricsSum, Protocol, SplitMix64};

#[test]
fn hit_rate_and_ndcg_by_hand() {
    let mut sum = MetricsSum::default();
    for rank in [0, 1, 9, 10] {
        sum.add(rank);
    }
    let metrics = sum.finish();
    assert_eq!(metrics.users, 4);
    assert!((metrics.hit_rate - 0.75).abs() < 1e-12);
    let ndcg = (1.0 + 1.0 / 3f64.log2() + 1.0 / 11f64.log2()) / 4.0;
    assert!((metrics.ndcg - ndcg).abs() < 1e-12);
}

#[test]
fn rank_counts_higher_scores_and_splits_ties() {
    let mut rng = SplitMix64(1);
    assert_eq!(rank_of(0.5, [0.1, 0.9, 0.7, 0.2], &mut rng), 2);
    assert_eq!(rank_of(1.0, [0.1, 0.2], &mut rng), 0);
    // Three ties: the rank is uniform over 0..=3, so over many draws all occur.
    let ranks: std::collections::BTreeSet<usize> =
        (0..200).map(|_| rank_of(0.5, [0.5, 0.5, 0.5], &mut rng)).collect();
    assert_eq!(ranks.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn full_ranking_masks_earlier_items_but_not_the_target() {
    // 6 items; scores favour low indices. User [4, 0, 2]: history [4, 0],
    // target 2. Masking 4 and 0 leaves 1 above the target: rank 1.
    let scores = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
    let sequences = vec![vec![4, 0, 2], vec![1, 5]]; // the second is too short to evaluate
    let m = evaluate(&sequences, 6, Protocol::Full, 0, |_| Ok::<_, ()>(Cow::Borrowed(&scores[..]))).unwrap();
    assert_eq!(m.users, 1);
    assert!((m.ndcg - 1.0 / 3f64.log2()).abs() < 1e-12);

    // A repeated target (also in the history) is not masked away.
    let repeat = vec![vec![2, 0, 2]];
    let m = evaluate(&repeat, 6, Protocol::Full, 0, |_| Ok::<_, ()>(Cow::Borrowed(&scores[..]))).unwrap();
    assert!((m.ndcg - 1.0 / 3f64.log2()).abs() < 1e-12, "rank should be 1 (only item 1 above)");
}

#[test]
fn sampled_protocol_never_samples_the_users_items() {
    // Items the user saw score highest; if any were sampled as negatives the
    // target (scored lowest of the seen) would lose rank 0.
    let item_count = 500;
    let sequences: Vec<Vec<usize>> = (0..50).map(|u| vec![u, u + 100, u + 200, u + 300]).collect();
    let m = evaluate(&sequences, item_count, Protocol::Sampled, 7, |history| {
        let mut scores = vec![0.0f32; item_count];
        for &i in history {
            scores[i] = 10.0;
        }
        scores[history[0] + 300] = 1.0; // the target
        Ok::<_, ()>(Cow::Owned(scores))
    })
    .unwrap();
    assert_eq!(m.users, 50);
    assert_eq!(m.hit_rate, 1.0);
    assert_eq!(m.ndcg, 1.0);
}

#[test]
fn parses_both_dataset_formats_and_counts_popularity() {
    let pairs = parse_sequences("1 10\n1 11\n2 10\n1 12\n").unwrap();
    assert_eq!(pairs, vec![vec!["10", "11", "12"], vec!["10"]]);
    let lines = parse_sequences("1 5 6 7\n2 6\n").unwrap();
    assert_eq!(lines, vec![vec!["5", "6", "7"], vec!["6"]]);
    assert!(parse_sequences("7\n").is_err());
    // Popularity counts all but each user's last (test) item.
    assert_eq!(popularity(&[vec![0, 1, 2], vec![1, 0]], 3), vec![1.0, 2.0, 0.0]);
}

#[test]
fn eval_command_runs_on_a_slice_of_real_histories() {
    // 40 real MovieLens users from the committed bundle, as `user item` lines.
    let files = common::default_bundle();
    let users: serde_json::Value = serde_json::from_slice(&files["users.json"]).unwrap();
    let catalog: serde_json::Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    let mut data = String::new();
    for (user, seen) in users["seen"].as_array().unwrap().iter().take(40).enumerate() {
        for index in seen.as_array().unwrap() {
            data += &format!(
                "{user} {}\n",
                catalog["items"][index.as_u64().unwrap() as usize]["id"].as_str().unwrap()
            );
        }
    }
    let path = std::env::temp_dir().join(format!("edgerec-eval-slice-{}.txt", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgerec"))
        .args(["eval", "models/channel/ml-100k/versions/1", path.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for row in ["| next_up (LSTM) | 100 sampled negatives |", "| PopRec | full ranking |"] {
        let line =
            stdout.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no row {row}:\n{stdout}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (hr, ndcg, users): (f64, f64, usize) =
            (cells[3].parse().unwrap(), cells[4].parse().unwrap(), cells[5].parse().unwrap());
        assert_eq!(users, 40);
        assert!((0.0..=1.0).contains(&hr) && ndcg <= hr, "{line}");
    }
}
