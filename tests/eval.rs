//! The evaluation code against hand-computed cases, and the `edgerec eval`
//! command on a small slice of real data.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::borrow::Cow;

use edgerec::eval::{
    basket_popularity, evaluate, evaluate_baskets, evaluate_completion, is_basket_file, parse_baskets,
    parse_sequences, popularity, rank_of, Basket, MetricsSum, Protocol, SplitMix64,
};

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
fn baskets_rank_every_target_among_items_not_in_the_history() {
    // 14 items, scores favour low indices. History [0]: item 1 ranks 0 and
    // item 3 ranks 2 (1 and 2 above it); the ideal is two hits at 0 and 1.
    let scores: Vec<f32> = (0..14).map(|i| 14.0 - i as f32).collect();
    let score = |_: &[usize]| Ok::<_, ()>(Cow::Borrowed(&scores[..]));
    let baskets = vec![Basket { history: vec![0], targets: vec![1, 3] }];
    let m = evaluate_baskets(&baskets, 14, 0, score).unwrap();
    assert_eq!((m.users, m.hit_rate), (1, 1.0));
    let ideal = 1.0 + 1.0 / 3f64.log2();
    assert!((m.ndcg - (1.0 + 0.5) / ideal).abs() < 1e-12, "{}", m.ndcg);

    // Targets past the top 10 (items 12 and 13 rank 11 and 12 with item 0
    // excluded): no hit, no gain; a basket with no targets is not counted.
    let baskets = vec![
        Basket { history: vec![0], targets: vec![12, 13] },
        Basket { history: vec![0], targets: vec![] },
    ];
    let m = evaluate_baskets(&baskets, 14, 0, score).unwrap();
    assert_eq!((m.users, m.hit_rate, m.ndcg), (1, 0.0, 0.0));

    // Excluding the history lifts a target: with items 0..=9 in the history,
    // item 12 ranks 2.
    let baskets = vec![Basket { history: (0..10).collect(), targets: vec![12] }];
    let m = evaluate_baskets(&baskets, 14, 0, score).unwrap();
    assert!((m.ndcg - 1.0 / 4f64.log2()).abs() < 1e-12);
}

#[test]
fn completion_holds_out_each_item_of_a_basket_in_turn() {
    // 14 items. The query's partners score 10; everything else 14 - i. A basket
    // [12, 13]: holding out 12, the query [13] puts item 12 first (a hit at
    // rank 0); holding out 13, the query [12] does not know it (rank past 10).
    let score = |others: &[usize]| {
        let partner = if others == [13] { 12 } else { 99 };
        Ok::<_, ()>(Cow::Owned(
            (0..14).map(|i| if i == partner { 20.0 } else { 14.0 - i as f32 }).collect::<Vec<f32>>(),
        ))
    };
    let baskets = vec![
        Basket { history: vec![], targets: vec![12, 13] },
        Basket { history: vec![5], targets: vec![3] }, // one item: nothing to complete
    ];
    let m = evaluate_completion(&baskets, 14, 0, score).unwrap();
    assert_eq!(m.users, 2, "two trials");
    assert_eq!(m.hit_rate, 0.5);
    assert!((m.ndcg - 0.5).abs() < 1e-12);
}

#[test]
fn parses_basket_files() {
    let text = "u1 10 11 | 12 13\nu2 10 |14\n";
    assert!(is_basket_file(text) && !is_basket_file("u1 10 11\n"));
    let baskets = parse_baskets(text).unwrap();
    assert_eq!(
        baskets[0],
        Basket {
            history: vec!["10".to_owned(), "11".to_owned()],
            targets: vec!["12".to_owned(), "13".to_owned()]
        }
    );
    assert_eq!(baskets[1].targets, vec!["14"]);
    assert!(parse_baskets("u1 10 11\n").unwrap_err().contains("line 1: no `|`"));
    assert!(parse_baskets("u1 | 12\n").unwrap_err().contains("at least one history item"));
    assert!(parse_baskets("u1 10 |\n").is_err());
    let counted = basket_popularity(
        &[Basket { history: vec![0, 1], targets: vec![2] }, Basket { history: vec![1], targets: vec![0] }],
        3,
    );
    assert_eq!(counted, vec![1.0, 2.0, 0.0], "histories count, targets do not");
}

/// Runs `edgerec eval` on the committed bundle with `data` as the data file.
fn eval_command(data: &str, args: &[&str]) -> (bool, String) {
    let path = std::env::temp_dir().join(format!("edgerec-eval-{}-{}.txt", std::process::id(), data.len()));
    std::fs::write(&path, data).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgerec"))
        .args(["eval", "models/channel/ml-100k/versions/1", path.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// (HR@10, NDCG@10, users) of the table row starting with `row`.
fn table_row(stdout: &str, row: &str) -> (f64, f64, usize) {
    let line =
        stdout.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no row {row}:\n{stdout}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let metrics = (cells[3].parse().unwrap(), cells[4].parse().unwrap(), cells[5].parse().unwrap());
    assert!((0.0..=1.0).contains(&metrics.0) && metrics.1 <= metrics.0, "{line}");
    metrics
}

/// 40 real MovieLens users of the committed bundle: (user, their item ids in order).
fn real_users() -> Vec<Vec<String>> {
    let files = common::default_bundle();
    let users: serde_json::Value = serde_json::from_slice(&files["users.json"]).unwrap();
    let catalog: serde_json::Value = serde_json::from_slice(&files["catalog.json"]).unwrap();
    let id = |index: &serde_json::Value| {
        catalog["items"][index.as_u64().unwrap() as usize]["id"].as_str().unwrap().to_owned()
    };
    users["seen"]
        .as_array()
        .unwrap()
        .iter()
        .take(40)
        .map(|seen| seen.as_array().unwrap().iter().map(id).collect())
        .collect()
}

#[test]
fn eval_command_scores_held_out_baskets() {
    // Each user's last five items are their "basket".
    let data: String = real_users()
        .iter()
        .enumerate()
        .map(|(user, ids)| {
            let (history, basket) = ids.split_at(ids.len() - 5);
            format!("{user} {} | {}\n", history.join(" "), basket.join(" "))
        })
        .collect();
    let (ok, stdout) = eval_command(&data, &[]);
    assert!(ok, "{stdout}");
    for row in [
        "| next_up (LSTM) | full ranking, last basket |",
        "| for_you (fold-in) | full ranking, last basket |",
        "| item-kNN (baseline) | full ranking, last basket |",
        "| EASE (baseline) | full ranking, last basket |",
        "| PopRec | full ranking, last basket |",
    ] {
        assert_eq!(table_row(&stdout, row).2, 40);
    }
    assert!(stdout.contains("EASE (λ = 500,"), "basket files have no validation item: {stdout}");
    let (ok, stderr) = eval_command(&data, &["--protocol", "sampled"]);
    assert!(!ok && stderr.contains("basket files are ranked in full only"), "{stderr}");
    let (ok, stderr) = eval_command("7 1 2 | no-such-item\n", &[]);
    assert!(!ok && stderr.contains("item \"no-such-item\" is not in the bundle"), "{stderr}");
}

#[test]
fn eval_command_runs_on_a_slice_of_real_histories() {
    // The same users as `user item` lines, leave-one-out.
    let data: String = real_users()
        .iter()
        .enumerate()
        .flat_map(|(user, ids)| ids.iter().map(move |id| format!("{user} {id}\n")))
        .collect();
    let (ok, stdout) = eval_command(&data, &[]);
    assert!(ok, "{stdout}");
    for row in [
        "| next_up (LSTM) | 100 sampled negatives |",
        "| for_you (fold-in) | full ranking |",
        "| item-kNN (baseline) | full ranking |",
        "| EASE (baseline) | 100 sampled negatives |",
        "| PopRec | full ranking |",
    ] {
        assert_eq!(table_row(&stdout, row).2, 40);
    }
    // EASE's λ is chosen on the validation item, one line per candidate.
    assert_eq!(stdout.matches("validation NDCG@10").count(), 5, "{stdout}");
    let (ok, stdout) = eval_command(&data, &["--ease-lambda", "50", "--protocol", "full"]);
    assert!(ok && stdout.contains("EASE (λ = 50,") && !stdout.contains("validation NDCG@10"), "{stdout}");
    let (ok, stderr) = eval_command(&data, &["--ease-lambda", "-1"]);
    assert!(!ok && stderr.contains("bad --ease-lambda"), "{stderr}");
}
