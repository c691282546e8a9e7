//! The retrieval kernel: score every row of an item matrix against a query
//! vector and keep the best k. Every model ends here; encoders only make
//! queries. Pure computation: no knowledge of bundles, ids or JS.

mod matrix;
mod quantized;
mod row_set;
mod top_k;

pub use matrix::{Matrix, MatrixError};
pub use quantized::{rerank_depth, QuantizedMatrix};
pub use row_set::RowSet;
pub use top_k::{top_k, Hit, TopK};

/// An item matrix as a bundle stores it: f32, or int8 with a scale per row.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemMatrix {
    F32(Matrix),
    I8(QuantizedMatrix),
}

impl ItemMatrix {
    pub fn rows(&self) -> usize {
        match self {
            Self::F32(m) => m.rows(),
            Self::I8(m) => m.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Self::F32(m) => m.cols(),
            Self::I8(m) => m.cols(),
        }
    }

    /// Row `index` as f32 values.
    pub fn row(&self, index: usize) -> Vec<f32> {
        match self {
            Self::F32(m) => m.row(index).to_vec(),
            Self::I8(m) => m.row(index),
        }
    }

    /// The matrix with unit-norm rows, so a dot product is a cosine; rescaled
    /// in place, as it can be as large as the catalog.
    pub fn normalised_rows(self) -> Self {
        match self {
            Self::F32(m) => Self::F32(m.normalised_rows()),
            Self::I8(m) => Self::I8(m.normalised_rows()),
        }
    }

    /// Exact dot product of row `index` with `query`, as [`Self::scores`] has it.
    pub fn score(&self, index: usize, query: &[f32]) -> f32 {
        match self {
            Self::F32(m) => m.score(index, query),
            Self::I8(m) => m.score(index, query),
        }
    }

    /// Exact dot product of every row with `query`.
    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        match self {
            Self::F32(m) => m.scores(query),
            Self::I8(m) => m.scores(query),
        }
    }
}

impl From<Matrix> for ItemMatrix {
    fn from(matrix: Matrix) -> Self {
        Self::F32(matrix)
    }
}

/// A rows × cols matrix of pseudo-random values in [-1, 1] (f32, or int8
/// with a random scale per row) for benchmarks; built row by row, so an int8
/// one never holds the f32 values.
pub fn synthetic(rows: usize, cols: usize, int8: bool, seed: u64) -> ItemMatrix {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    if int8 {
        let values = (0..rows * cols).map(|_| (next() * 127.0).round() as i8).collect();
        let scales = (0..rows).map(|_| (next() + 1.5) / 127.0).collect();
        ItemMatrix::I8(QuantizedMatrix::from_parts(rows, cols, values, scales))
    } else {
        let values = (0..rows * cols).map(|_| next()).collect();
        ItemMatrix::F32(Matrix::new(rows, cols, values).expect("finite values of the right length"))
    }
}

/// Scores all rows against `query` and returns the best `k` rows accepted by
/// `keep`, highest score first, lower row index first on ties.
pub fn search(matrix: &ItemMatrix, query: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
    search_with(matrix, query, k, &keep, None)
}

/// [`search`], with `bonus[row]` added to every row's score before ranking.
/// `keep` is dynamic: one copy of the scan serves every caller (it is asked
/// only about rows that would enter the top k).
///
/// # Panics
/// If `bonus` has another length than the matrix has rows.
pub fn search_with(
    matrix: &ItemMatrix,
    query: &[f32],
    k: usize,
    keep: &dyn Fn(usize) -> bool,
    bonus: Option<&[f32]>,
) -> Vec<Hit> {
    if let Some(bonus) = bonus {
        assert_eq!(bonus.len(), matrix.rows(), "one bonus per row");
    }
    match matrix {
        ItemMatrix::F32(m) => {
            // Scored first, ranked after: in wasm, ranking inside the
            // simd128 scan slowed the scan more than it saved.
            let mut scores = m.scores(query);
            if let Some(bonus) = bonus {
                scores.iter_mut().zip(bonus).for_each(|(score, b)| *score += b);
            }
            top_k(&scores, k, keep)
        }
        ItemMatrix::I8(m) => m.search(query, k, keep, bonus),
    }
}
