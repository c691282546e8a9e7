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

    /// Row `index` · `query`, computed as [`Self::scores`] computes it.
    pub fn score(&self, index: usize, query: &[f32]) -> f32 {
        let cols = self.cols();
        let values = self.values.as_slice().expect("standard layout");
        dot(&values[index * cols..(index + 1) * cols], query)
    }

    /// Dot product of every row with `query`.
    ///
    /// # Panics
    /// If `query.len() != self.cols()`; callers build queries from this
    /// matrix's own dimensions.
    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.cols(), "query dimension");
        let values = self.values.as_slice().expect("standard layout");
        if self.cols() == 0 {
            return vec![0.0; self.rows()];
        }
        scores_of(values, self.cols(), query)
    }
}

/// Every row's [`dot`] with `query`. In wasm, four rows at a time with
/// simd128: their sums are independent, so the CPU overlaps them instead of
/// waiting on one row's chain of additions; each row is summed exactly as
/// `dot` sums it, so the scores are the same bit for bit.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn scores_of(values: &[f32], cols: usize, query: &[f32]) -> Vec<f32> {
    use core::arch::wasm32::*;
    let mut scores = Vec::with_capacity(values.len() / cols);
    let steps = cols / 8;
    let tail = steps * 8;
    let mut blocks = values.chunks_exact(4 * cols);
    for block in &mut blocks {
        // Lanes 0-3 and 4-7 of each row's eight accumulators.
        let mut low = [f32x4_splat(0.0); 4];
        let mut high = [f32x4_splat(0.0); 4];
        for step in 0..steps {
            let at = step * 8;
            // SAFETY: `at + 8 <= tail <= cols == query.len()`, and row `r` of
            // the block spans `r * cols .. (r + 1) * cols`; v128_load reads unaligned.
            unsafe {
                let q_low = v128_load(query.as_ptr().add(at) as *const v128);
                let q_high = v128_load(query.as_ptr().add(at + 4) as *const v128);
                for r in 0..4 {
                    let row = block.as_ptr().add(r * cols + at);
                    low[r] = f32x4_add(low[r], f32x4_mul(v128_load(row as *const v128), q_low));
                    high[r] = f32x4_add(high[r], f32x4_mul(v128_load(row.add(4) as *const v128), q_high));
                }
            }
        }
        for r in 0..4 {
            let lanes = [
                f32x4_extract_lane::<0>(low[r]),
                f32x4_extract_lane::<1>(low[r]),
                f32x4_extract_lane::<2>(low[r]),
                f32x4_extract_lane::<3>(low[r]),
                f32x4_extract_lane::<0>(high[r]),
                f32x4_extract_lane::<1>(high[r]),
                f32x4_extract_lane::<2>(high[r]),
                f32x4_extract_lane::<3>(high[r]),
            ];
            let row = &block[r * cols..(r + 1) * cols];
            scores.push(lanes_sum(lanes, &row[tail..], &query[tail..]));
        }
    }
    scores.extend(blocks.remainder().chunks_exact(cols).map(|row| dot(row, query)));
    scores
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn scores_of(values: &[f32], cols: usize, query: &[f32]) -> Vec<f32> {
    values.chunks_exact(cols).map(|row| dot(row, query)).collect()
}

/// The eight lanes summed in order, then the products past the last whole
/// eight: how [`dot`] finishes, shared so every path sums alike.
fn lanes_sum(lanes: [f32; 8], a_tail: &[f32], b_tail: &[f32]) -> f32 {
    let mut sum = lanes.iter().sum::<f32>();
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
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
    lanes_sum(lanes, a_tail, b_tail)
}
