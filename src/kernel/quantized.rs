//! int8 item matrices: each row stored as `i8` values and one `f32` scale
//! (value = i8 × scale), a quarter of the f32 bytes.
//!
//! A scan runs in two passes. The first scores every row with integer
//! arithmetic against the query rounded to `i16` (wasm simd128: 16 values per
//! step); integer sums are exact, so every platform gets the same numbers.
//! The best candidates of that pass are then scored again exactly (the f32
//! query against the row's own values), which gives the answer its scores and
//! its order. Rounding the query moves a score by far less than the gap
//! between the k-th and the [`rerank_depth`]-th best, so the candidates hold
//! the exact top k.

use super::matrix::MatrixError;
use super::top_k::{Hit, TopK};

#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedMatrix {
    rows: usize,
    cols: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

/// Candidates the integer pass keeps for exact scoring when `k` are asked for.
pub fn rerank_depth(k: usize) -> usize {
    k.saturating_mul(4).saturating_add(32)
}

impl QuantizedMatrix {
    /// Decodes the bundle layout: `rows × cols` i8 values, row-major, then
    /// `rows` little-endian f32 scales. Scales must be finite and >= 0.
    pub fn from_le_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, MatrixError> {
        let count = rows.checked_mul(cols).ok_or(MatrixError::TooLarge { rows, cols })?;
        let expected = rows.checked_mul(4).and_then(|s| s.checked_add(count));
        if expected != Some(bytes.len()) {
            return Err(MatrixError::WrongLength {
                rows,
                cols,
                expected: expected.unwrap_or(usize::MAX),
                found: bytes.len(),
            });
        }
        let (values, scales) = bytes.split_at(count);
        let values = values.iter().map(|&b| b as i8).collect();
        let scales: Vec<f32> =
            scales.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(row) = scales.iter().position(|s| !s.is_finite() || *s < 0.0) {
            return Err(MatrixError::BadScale { row, value: scales[row] });
        }
        Ok(Self { rows, cols, values, scales })
    }

    /// # Panics
    /// If the lengths do not match `rows` and `cols`.
    pub fn from_parts(rows: usize, cols: usize, values: Vec<i8>, scales: Vec<f32>) -> Self {
        assert_eq!((values.len(), scales.len()), (rows * cols, rows), "parts");
        Self { rows, cols, values, scales }
    }

    /// Rounds each row of `values` (row-major, `cols` wide) to i8 with its own
    /// scale, max |value| / 127: what the training side writes.
    pub fn quantize(rows: usize, cols: usize, values: &[f32]) -> Self {
        assert_eq!(values.len(), rows * cols, "values");
        let mut quantized = Vec::with_capacity(values.len());
        let mut scales = Vec::with_capacity(rows);
        for row in values.chunks_exact(cols.max(1)).take(rows) {
            let largest = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = largest / 127.0;
            scales.push(scale);
            quantized.extend(row.iter().map(|&v| if scale > 0.0 { (v / scale).round() as i8 } else { 0 }));
        }
        Self { rows, cols, values: quantized, scales }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes held: values and scales.
    pub fn bytes(&self) -> usize {
        self.values.len() + 4 * self.scales.len()
    }

    fn row_values(&self, index: usize) -> &[i8] {
        &self.values[index * self.cols..(index + 1) * self.cols]
    }

    /// Row `index` as f32 values.
    pub fn row(&self, index: usize) -> Vec<f32> {
        let scale = self.scales[index];
        self.row_values(index).iter().map(|&v| f32::from(v) * scale).collect()
    }

    /// The same rows scaled to unit L2 norm (all-zero rows stay zero): only
    /// the scales change.
    pub fn normalised_rows(mut self) -> Self {
        for index in 0..self.rows {
            let norm =
                self.row_values(index).iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            self.scales[index] = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
        }
        self
    }

    /// Exact score of one row: scale × Σ query · values, accumulated as
    /// [`super::matrix`]'s f32 dot product is.
    pub fn score(&self, index: usize, query: &[f32]) -> f32 {
        let row = self.row_values(index);
        let mut lanes = [0.0f32; 8];
        let (q_chunks, r_chunks) = (query.chunks_exact(8), row.chunks_exact(8));
        let (q_tail, r_tail) = (q_chunks.remainder(), r_chunks.remainder());
        for (q, r) in q_chunks.zip(r_chunks) {
            for lane in 0..8 {
                lanes[lane] += q[lane] * f32::from(r[lane]);
            }
        }
        let mut sum = lanes.iter().sum::<f32>();
        for (q, &r) in q_tail.iter().zip(r_tail) {
            sum += q * f32::from(r);
        }
        sum * self.scales[index]
    }

    /// Exact scores of every row.
    ///
    /// # Panics
    /// If `query.len() != self.cols()`.
    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.cols, "query dimension");
        (0..self.rows).map(|index| self.score(index, query)).collect()
    }

    /// The best `k` rows `keep` accepts, scored exactly: an integer pass over
    /// every row, then exact scores for its best [`rerank_depth`] candidates.
    ///
    /// # Panics
    /// If `query.len() != self.cols()`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(usize) -> bool,
        bonus: Option<&[f32]>,
    ) -> Vec<Hit> {
        assert_eq!(query.len(), self.cols, "query dimension");
        let extra = |row: usize| bonus.map_or(0.0, |b| b[row]);
        // Ranked as scored: at a million rows, holding every score cost more
        // memory traffic than it saved.
        let mut candidates = TopK::new(rerank_depth(k), self.rows);
        self.each_approximate_score(query, |row, score| candidates.offer(row, score + extra(row), &keep));
        let mut hits: Vec<Hit> = candidates
            .into_hits()
            .into_iter()
            .map(|hit| Hit { index: hit.index, score: self.score(hit.index, query) + extra(hit.index) })
            .collect();
        hits.sort_by(Hit::rank_cmp);
        hits.truncate(k);
        hits
    }

    /// Calls `visit(row, score)` for every row in order, scored against the
    /// query rounded to i16 (in the same units as the exact scores, so a
    /// bonus adds to both alike).
    fn each_approximate_score(&self, query: &[f32], mut visit: impl FnMut(usize, f32)) {
        let (rounded, step) = rounded_query(query);
        if self.cols == 0 {
            (0..self.rows).for_each(|row| visit(row, 0.0));
            return;
        }
        // Four rows at a time: independent sums the CPU overlaps (integer sums
        // are exact, so the order changes nothing).
        let mut blocks = self.values.chunks_exact(4 * self.cols);
        let mut scales = self.scales.chunks_exact(4);
        let mut row = 0;
        for (block, scales) in (&mut blocks).zip(&mut scales) {
            let sums = integer_dots4(block, self.cols, &rounded);
            for (&sum, &scale) in sums.iter().zip(scales) {
                visit(row, sum as f32 * scale * step);
                row += 1;
            }
        }
        for (values, &scale) in blocks.remainder().chunks_exact(self.cols).zip(scales.remainder()) {
            visit(row, integer_dot(values, &rounded) as f32 * scale * step);
            row += 1;
        }
    }
}

/// The query as i16 values and the value of one i16 step, scaled so that
/// its largest magnitude is as large as it can be without an i32 sum of
/// `cols` products with i8 (down to -128) overflowing.
fn rounded_query(query: &[f32]) -> (Vec<i16>, f32) {
    let largest = query.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return (vec![0; query.len()], 0.0);
    }
    // Whole, so rounding a value cannot take it past the bound.
    let room = (f64::from(i32::MAX) / (128.0 * query.len().max(1) as f64)).floor().min(f64::from(i16::MAX));
    let factor = room / f64::from(largest);
    (query.iter().map(|&v| (f64::from(v) * factor).round() as i16).collect(), (1.0 / factor) as f32)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn integer_dot(row: &[i8], query: &[i16]) -> i32 {
    use core::arch::wasm32::*;
    let mut sum = i32x4_splat(0);
    let steps = row.len() / 16;
    for step in 0..steps {
        let at = step * 16;
        // SAFETY: `at + 16 <= row.len() == query.len()`; v128_load reads unaligned.
        let (r, q_low, q_high) = unsafe {
            (
                v128_load(row.as_ptr().add(at) as *const v128),
                v128_load(query.as_ptr().add(at) as *const v128),
                v128_load(query.as_ptr().add(at + 8) as *const v128),
            )
        };
        sum = i32x4_add(sum, i32x4_dot_i16x8(i16x8_extend_low_i8x16(r), q_low));
        sum = i32x4_add(sum, i32x4_dot_i16x8(i16x8_extend_high_i8x16(r), q_high));
    }
    let mut total = i32x4_extract_lane::<0>(sum)
        + i32x4_extract_lane::<1>(sum)
        + i32x4_extract_lane::<2>(sum)
        + i32x4_extract_lane::<3>(sum);
    for (&r, &q) in row[steps * 16..].iter().zip(&query[steps * 16..]) {
        total += i32::from(r) * i32::from(q);
    }
    total
}

/// [`integer_dot`] of the four rows of `block` (each `cols` wide).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn integer_dots4(block: &[i8], cols: usize, query: &[i16]) -> [i32; 4] {
    use core::arch::wasm32::*;
    let mut sums = [i32x4_splat(0); 4];
    let steps = cols / 16;
    for step in 0..steps {
        let at = step * 16;
        // SAFETY: `at + 16 <= cols == query.len()`, and row `r` of the block
        // spans `r * cols .. (r + 1) * cols`; v128_load reads unaligned.
        unsafe {
            let q_low = v128_load(query.as_ptr().add(at) as *const v128);
            let q_high = v128_load(query.as_ptr().add(at + 8) as *const v128);
            for (r, sum) in sums.iter_mut().enumerate() {
                let values = v128_load(block.as_ptr().add(r * cols + at) as *const v128);
                *sum = i32x4_add(*sum, i32x4_dot_i16x8(i16x8_extend_low_i8x16(values), q_low));
                *sum = i32x4_add(*sum, i32x4_dot_i16x8(i16x8_extend_high_i8x16(values), q_high));
            }
        }
    }
    let tail = steps * 16;
    let mut out = [0i32; 4];
    for (r, (sum, total)) in sums.iter().zip(&mut out).enumerate() {
        let row = &block[r * cols..(r + 1) * cols];
        *total = i32x4_extract_lane::<0>(*sum)
            + i32x4_extract_lane::<1>(*sum)
            + i32x4_extract_lane::<2>(*sum)
            + i32x4_extract_lane::<3>(*sum)
            + row[tail..].iter().zip(&query[tail..]).map(|(&v, &q)| i32::from(v) * i32::from(q)).sum::<i32>();
    }
    out
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn integer_dots4(block: &[i8], cols: usize, query: &[i16]) -> [i32; 4] {
    let mut rows = block.chunks_exact(cols);
    std::array::from_fn(|_| integer_dot(rows.next().expect("four rows"), query))
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn integer_dot(row: &[i8], query: &[i16]) -> i32 {
    row.iter().zip(query).map(|(&r, &q)| i32::from(r) * i32::from(q)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_layout_round_trips_and_bad_scales_are_refused() {
        let m = QuantizedMatrix::quantize(2, 3, &[1.0, -2.0, 0.5, 0.0, 0.0, 0.0]);
        let mut bytes: Vec<u8> = m.values.iter().map(|&v| v as u8).collect();
        bytes.extend(m.scales.iter().flat_map(|s| s.to_le_bytes()));
        assert_eq!(QuantizedMatrix::from_le_bytes(2, 3, &bytes).unwrap(), m);
        assert_eq!(m.row(0)[1], -2.0);
        assert_eq!(m.row(1), vec![0.0; 3]);
        assert!(QuantizedMatrix::from_le_bytes(2, 3, &bytes[1..]).is_err());
        let at = bytes.len() - 4;
        bytes[at..].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(
            QuantizedMatrix::from_le_bytes(2, 3, &bytes),
            Err(MatrixError::BadScale { row: 1, .. })
        ));
        bytes[at..].copy_from_slice(&(-1.0f32).to_le_bytes());
        assert!(QuantizedMatrix::from_le_bytes(2, 3, &bytes).is_err());
    }

    #[test]
    fn the_integer_dot_cannot_overflow_at_the_largest_dimension() {
        let cols = 1024;
        let row = vec![-128i8; cols];
        let (query, _) = rounded_query(&vec![-1.0f32; cols]);
        let exact: i64 = row.iter().zip(&query).map(|(&r, &q)| i64::from(r) * i64::from(q)).sum();
        assert_eq!(i64::from(integer_dot(&row, &query)), exact);
    }
}
