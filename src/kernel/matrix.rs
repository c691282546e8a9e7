//! Row-major f32 item matrix (one row per catalog item).

use ndarray::{Array2, ArrayView1};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum MatrixError {
    #[error("{bytes} bytes is not a whole number of f32 values")]
    NotF32Aligned { bytes: usize },
    #[error("{rows}x{cols} values do not fit in memory")]
    TooLarge { rows: usize, cols: usize },
    #[error("expected {rows}x{cols} = {expected} values, found {found}")]
    WrongLength { rows: usize, cols: usize, expected: usize, found: usize },
    #[error("value at row {row}, column {col} is not finite ({value})")]
    NonFinite { row: usize, col: usize, value: f32 },
    #[error("the scale of row {row} is not a finite number >= 0 ({value})")]
    BadScale { row: usize, value: f32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    values: Array2<f32>,
}

impl Matrix {
    /// Builds a matrix from row-major values, rejecting wrong lengths and
    /// NaN/infinity (a single NaN would silently poison every ranking).
    pub fn new(rows: usize, cols: usize, values: Vec<f32>) -> Result<Self, MatrixError> {
        let expected = rows.checked_mul(cols).ok_or(MatrixError::TooLarge { rows, cols })?;
        if values.len() != expected {
            return Err(MatrixError::WrongLength { rows, cols, expected, found: values.len() });
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            let (row, col) = (at / cols.max(1), at % cols.max(1));
            return Err(MatrixError::NonFinite { row, col, value: values[at] });
        }
        let values =
            Array2::from_shape_vec((rows, cols), values).map_err(|_| MatrixError::TooLarge { rows, cols })?;
        Ok(Self { values })
    }

    /// Decodes little-endian f32 bytes, as bundles store matrices.
    pub fn from_le_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, MatrixError> {
        if bytes.len() % 4 != 0 {
            return Err(MatrixError::NotF32Aligned { bytes: bytes.len() });
        }
        let values = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Self::new(rows, cols, values)
    }

    pub fn rows(&self) -> usize {
        self.values.nrows()
    }

    pub fn cols(&self) -> usize {
        self.values.ncols()
    }

    pub fn row(&self, index: usize) -> ArrayView1<'_, f32> {
        self.values.row(index)
    }

    /// The matrix with its rows scaled to unit L2 norm in place (all-zero
    /// rows stay zero), so a dot product is a cosine similarity.
    pub fn normalised_rows(self) -> Self {
        let mut values = self.values;
        for mut row in values.rows_mut() {
            let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            if norm > 0.0 {
                row.mapv_inplace(|v| (f64::from(v) / norm) as f32);
            }
        }
        Self { values }
    }

    /// Dot product of every row with `query`.
    ///
    /// # Panics
    /// If `query.len() != self.cols()`; callers build queries from this
    /// matrix's own dimensions.
    /// Row `index` · `query`, computed as [`Self::scores`] computes it.
    pub fn score(&self, index: usize, query: &[f32]) -> f32 {
        let cols = self.cols();
        let values = self.values.as_slice().expect("standard layout");
        dot(&values[index * cols..(index + 1) * cols], query)
    }

    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.cols(), "query dimension");
        let values = self.values.as_slice().expect("standard layout");
        if self.cols() == 0 {
            return vec![0.0; self.rows()];
        }
        values.chunks_exact(self.cols()).map(|row| dot(row, query)).collect()
    }
}

/// Eight independent accumulators: lets the compiler vectorise the loop
/// (wasm simd128 / SSE) without changing results between calls.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_tail, b_tail) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    let mut sum = lanes.iter().sum::<f32>();
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
}
