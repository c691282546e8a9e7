//! The retrieval kernel: score every row of an item matrix against a query
//! vector and keep the best k. Every model ends here; encoders only make
//! queries. Pure computation: no knowledge of bundles, ids or JS.

mod matrix;
mod row_set;
mod top_k;

pub use matrix::{Matrix, MatrixError};
pub use row_set::RowSet;
pub use top_k::{top_k, Hit};

/// Scores all rows against `query` and returns the best `k` rows accepted by
/// `keep`, highest score first, lower row index first on ties.
pub fn search(matrix: &Matrix, query: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
    top_k(&matrix.scores(query), k, keep)
}
