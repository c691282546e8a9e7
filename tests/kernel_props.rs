//! Property tests: the kernel's top-k (with any exclusion set, ties, -0.0,
//! infinities and NaN) against a brute-force oracle, and the scan against a
//! plain dot product.
#![cfg(not(target_arch = "wasm32"))]

use std::cmp::Ordering;

use edgerec::kernel::{search, search_with, top_k, Hit, ItemMatrix, Matrix, QuantizedMatrix};
use proptest::prelude::*;

/// Sorts everything by the kernel's documented order: higher score first
/// (total order, -0.0 equal to 0.0), then lower index; keeps the first k.
fn oracle(scores: &[f32], k: usize, keep: &[bool]) -> Vec<Hit> {
    let key = |s: f32| s + 0.0;
    let mut all: Vec<Hit> =
        (0..scores.len()).filter(|&i| keep[i]).map(|index| Hit { index, score: scores[index] }).collect();
    all.sort_by(|a, b| match key(b.score).total_cmp(&key(a.score)) {
        Ordering::Equal => a.index.cmp(&b.index),
        other => other,
    });
    all.truncate(k);
    all
}

fn score() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => (-4i8..=4).prop_map(|v| f32::from(v) / 4.0), // coarse grid: many ties
        4 => -1e3f32..1e3,
        1 => Just(-0.0f32),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::NAN),
    ]
}

fn same(a: &[Hit], b: &[Hit]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x.index == y.index && x.score.to_bits() == y.score.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn top_k_matches_the_oracle(
        (scores, keep) in prop::collection::vec((score(), prop::bool::weighted(0.7)), 0..300)
            .prop_map(|pairs| pairs.into_iter().unzip::<_, _, Vec<f32>, Vec<bool>>()),
        k in 0usize..40,
    ) {
        let got = top_k(&scores, k, |i| keep[i]);
        let want = oracle(&scores, k, &keep);
        prop_assert!(same(&got, &want), "got {:?}\nwant {:?}", got, want);
        prop_assert_eq!(got.len(), k.min(keep.iter().filter(|&&kept| kept).count()));
    }

    #[test]
    fn search_scores_are_dot_products(
        (rows, cols, values, query) in (1usize..40, 0usize..20).prop_flat_map(|(rows, cols)| (
            Just(rows),
            Just(cols),
            prop::collection::vec(-10f32..10.0, rows * cols),
            prop::collection::vec(-10f32..10.0, cols),
        )),
        k in 1usize..10,
    ) {
        let matrix = Matrix::new(rows, cols, values.clone()).unwrap();
        let exact: Vec<f64> = values
            .chunks(cols.max(1))
            .take(rows)
            .map(|row| row.iter().zip(&query).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum())
            .collect();
        let scores = matrix.scores(&query);
        for (got, want) in scores.iter().zip(&exact) {
            prop_assert!((f64::from(*got) - want).abs() <= 1e-3 * (1.0 + want.abs()), "{} vs {}", got, want);
        }
        let hits = search(&matrix.into(), &query, k, |_| true);
        prop_assert!(same(&hits, &oracle(&scores, k, &vec![true; rows])));
    }
}

proptest! {
    // Large matrices (the scan must hold more rows than it re-scores): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The int8 scan (integer pass, then exact scores for its candidates)
    /// returns exactly the top k of the exact int8 scores, with any exclusions.
    #[test]
    fn int8_search_is_the_exact_top_k_of_its_matrix(
        (rows, cols, values, query, keep) in (100usize..1_500, 1usize..70).prop_flat_map(|(rows, cols)| (
            Just(rows),
            Just(cols),
            prop::collection::vec(prop_oneof![4 => -1f32..1.0, 1 => Just(0.0f32)], rows * cols),
            prop::collection::vec(-3f32..3.0, cols),
            prop::collection::vec(prop::bool::weighted(0.8), rows),
        )),
        k in 1usize..20,
    ) {
        let quantized = QuantizedMatrix::quantize(rows, cols, &values);
        let exact = quantized.scores(&query);
        let matrix = ItemMatrix::I8(quantized.clone());
        let hits = search(&matrix, &query, k, |i| keep[i]);
        prop_assert!(same(&hits, &oracle(&exact, k, &keep)), "got {:?}", hits);
        // With a merchandising bonus on every third row, in both passes.
        let bonus: Vec<f32> = (0..rows).map(|row| if row % 3 == 0 { 0.5 } else { 0.0 }).collect();
        let boosted: Vec<f32> = exact.iter().zip(&bonus).map(|(s, b)| s + b).collect();
        let hits = search_with(&matrix, &query, k, &|i| keep[i], Some(&bonus));
        prop_assert!(same(&hits, &oracle(&boosted, k, &keep)), "boosted: got {:?}", hits);
        // And the int8 values are within half a step of the f32 ones.
        for (row, chunk) in values.chunks(cols).enumerate() {
            let largest = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (got, want) in quantized.row(row).iter().zip(chunk) {
                prop_assert!((got - want).abs() <= largest / 254.0 * 1.0001 + 1e-7);
            }
        }
    }
}
