//! The retrieval kernel against brute force on random matrices.
#![cfg(not(target_arch = "wasm32"))]

use edgerec::kernel::{search, top_k, Hit, Matrix, MatrixError};

/// Small deterministic generator (xorshift) so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Values on a coarse grid, so ties are common.
    fn coarse(&mut self) -> f32 {
        self.below(9) as f32 / 4.0 - 1.0
    }
}

/// Reference: sort everything by (score desc, index asc), filter, truncate.
fn brute_force(scores: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
    let mut all: Vec<Hit> =
        (0..scores.len()).filter(|&i| keep(i)).map(|index| Hit { index, score: scores[index] }).collect();
    all.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap().then(a.index.cmp(&b.index)));
    all.truncate(k);
    all
}

#[test]
fn search_matches_brute_force_on_random_matrices() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let rows = 1 + rng.below(60) as usize;
        let cols = 1 + rng.below(20) as usize;
        let values: Vec<f32> = (0..rows * cols).map(|_| rng.coarse()).collect();
        let matrix = Matrix::new(rows, cols, values.clone()).unwrap();
        let query: Vec<f32> = (0..cols).map(|_| rng.coarse()).collect();
        let k = rng.below(rows as u64 + 5) as usize; // includes 0 and k > n
        let excluded: Vec<bool> = (0..rows).map(|_| rng.below(4) == 0).collect();
        let keep = |i: usize| !excluded[i];

        let scores: Vec<f32> = (0..rows)
            .map(|r| values[r * cols..(r + 1) * cols].iter().zip(&query).map(|(a, b)| a * b).sum())
            .collect();
        let got = search(&matrix.into(), &query, k, keep);
        let want = brute_force(&scores, k, keep);
        assert_eq!(got.len(), want.len(), "round {round}");
        for (g, w) in got.iter().zip(&want) {
            // Coarse grid values are exact in f32, so scores are exact too.
            assert_eq!(g.index, w.index, "round {round}");
            assert_eq!(g.score, w.score, "round {round}");
        }
    }
}

#[test]
fn ties_come_back_in_index_order() {
    let hits = top_k(&[1.0, 3.0, 3.0, 1.0, 3.0], 4, |_| true);
    let order: Vec<usize> = hits.iter().map(|h| h.index).collect();
    assert_eq!(order, vec![1, 2, 4, 0]);
    // -0.0 and 0.0 are equal scores, so index order decides.
    let signed_zeros = top_k(&[0.0, -0.0, 0.0], 3, |_| true);
    assert_eq!(signed_zeros.iter().map(|h| h.index).collect::<Vec<_>>(), vec![0, 1, 2]);
}

#[test]
fn k_larger_than_the_catalog_returns_everything_kept() {
    let hits = top_k(&[0.5, 0.1, 0.9], 10, |i| i != 1);
    let order: Vec<usize> = hits.iter().map(|h| h.index).collect();
    assert_eq!(order, vec![2, 0]);
}

#[test]
fn exclusions_that_remove_everything_give_an_empty_answer() {
    assert!(top_k(&[0.5, 0.1, 0.9], 3, |_| false).is_empty());
    assert!(top_k(&[], 3, |_| true).is_empty());
    assert!(top_k(&[0.5], 0, |_| true).is_empty());
}

#[test]
fn negative_scores_rank_below_positive_ones() {
    let hits = top_k(&[-2.0, -0.5, 0.0, -1.0], 2, |_| true);
    assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![2, 1]);
}

#[test]
fn matrix_rejects_wrong_lengths_and_non_finite_values() {
    assert_eq!(
        Matrix::new(2, 2, vec![0.0; 3]),
        Err(MatrixError::WrongLength { rows: 2, cols: 2, expected: 4, found: 3 })
    );
    assert!(matches!(
        Matrix::new(2, 2, vec![0.0, 1.0, f32::NAN, 0.0]),
        Err(MatrixError::NonFinite { row: 1, col: 0, .. })
    ));
    assert!(matches!(Matrix::from_le_bytes(1, 1, &[0, 0, 0]), Err(MatrixError::NotF32Aligned { bytes: 3 })));
}

#[test]
fn normalised_rows_have_unit_length_and_zero_rows_stay_zero() {
    let m = Matrix::new(3, 2, vec![3.0, 4.0, 0.0, 0.0, -1.0, 0.0]).unwrap().normalised_rows();
    assert_eq!(m.row(0).to_vec(), vec![0.6, 0.8]);
    assert_eq!(m.row(1).to_vec(), vec![0.0, 0.0]);
    assert_eq!(m.row(2).to_vec(), vec![-1.0, 0.0]);
}

#[test]
fn row_set_is_sorted_distinct_and_answers_membership() {
    let set = edgerec::kernel::RowSet::new([5, 1, 5, 3]);
    assert_eq!(set.rows(), &[1, 3, 5]);
    assert!(set.contains(3) && !set.contains(2) && !set.contains(6));
}
