//! Two honest baselines `edgerec eval` ranks with the same code as the
//! bundle's models, trained on the same inputs the popularity baseline counts
//! (each sequence without its test item; each shopper's history):
//!
//! - [`ItemKnn`]: item-to-item cosine on co-occurrence with shrinkage, the
//!   100 nearest neighbours of each item kept (Sarwar et al. 2001); a history
//!   scores each item by the summed similarity of its items.
//! - [`Ease`]: the closed-form linear item-item model of Steck (2019),
//!   `B = I − P · diag(1 / diag(P))` with `P = (XᵀX + λI)⁻¹` and a zero
//!   diagonal; a history scores items by `x · B`.

/// A history's distinct items (a repeat counts once in both models).
fn distinct(history: &[usize]) -> Vec<usize> {
    let mut items = history.to_vec();
    items.sort_unstable();
    items.dedup();
    items
}

/// Item-kNN: for each item, its [`ItemKnn::NEIGHBOURS`] most similar items by
/// `co(i, j) / (sqrt(n_i · n_j) + shrink)`, where `co` counts the histories
/// holding both and `n` the histories holding each.
pub struct ItemKnn {
    neighbours: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    pub const NEIGHBOURS: usize = 100;
    pub const SHRINK: f32 = 10.0;

    pub fn fit(histories: &[&[usize]], item_count: usize) -> Self {
        let baskets: Vec<Vec<usize>> = histories.iter().map(|h| distinct(h)).collect();
        let mut holders: Vec<Vec<u32>> = vec![Vec::new(); item_count];
        for (index, basket) in baskets.iter().enumerate() {
            for &item in basket {
                holders[item].push(index as u32);
            }
        }
        // One dense row of co-occurrence counts at a time, reset through the touched list.
        let mut counts = vec![0f32; item_count];
        let mut touched = Vec::new();
        let neighbours = (0..item_count)
            .map(|item| {
                for &holder in &holders[item] {
                    for &other in &baskets[holder as usize] {
                        if other != item {
                            if counts[other] == 0.0 {
                                touched.push(other);
                            }
                            counts[other] += 1.0;
                        }
                    }
                }
                let n_item = holders[item].len() as f32;
                let mut similar: Vec<(u32, f32)> = touched
                    .drain(..)
                    .map(|other| {
                        let co = std::mem::take(&mut counts[other]);
                        let norm = (n_item * holders[other].len() as f32).sqrt() + Self::SHRINK;
                        (other as u32, co / norm)
                    })
                    .collect();
                if similar.len() > Self::NEIGHBOURS {
                    similar.select_nth_unstable_by(Self::NEIGHBOURS, |a, b| {
                        b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                    });
                    similar.truncate(Self::NEIGHBOURS);
                }
                similar
            })
            .collect();
        Self { neighbours }
    }

    pub fn scores(&self, history: &[usize]) -> Vec<f32> {
        let mut scores = vec![0f32; self.neighbours.len()];
        for item in distinct(history) {
            for &(other, similarity) in &self.neighbours[item] {
                scores[other as usize] += similarity;
            }
        }
        scores
    }
}

/// EASE over the items that occur in the training histories (an item that
/// never occurs has an all-zero row and column in `B`, so leaving it out
/// changes no score).
pub struct Ease {
    item_count: usize,
    /// Catalog row of each of the model's items, and the reverse map.
    rows: Vec<usize>,
    index: Vec<Option<u32>>,
    /// `P`, column-major (it is symmetric: column h is row h).
    inverse: Vec<f32>,
}

impl Ease {
    /// Above this many items the dense matrices no longer fit comfortably
    /// (three of them, 4 bytes per entry: 10.8 GB at 30,000).
    pub const MAX_ITEMS: usize = 30_000;
    /// Steck (2019) used λ = 500 on MovieLens-20M, Netflix and MSD; basket
    /// files, which have no validation item, use it.
    pub const DEFAULT_LAMBDA: f32 = 500.0;
    /// What `edgerec eval` tries on the validation item of sequence files.
    pub const LAMBDAS: [f32; 5] = [20.0, 50.0, 200.0, 500.0, 1000.0];

    pub fn fit(histories: &[&[usize]], item_count: usize, lambda: f32) -> Result<Self, String> {
        let baskets: Vec<Vec<usize>> = histories.iter().map(|h| distinct(h)).collect();
        let mut index: Vec<Option<u32>> = vec![None; item_count];
        let mut rows = Vec::new();
        for &item in baskets.iter().flatten() {
            if index[item].is_none() {
                index[item] = Some(rows.len() as u32);
                rows.push(item);
            }
        }
        let m = rows.len();
        if m > Self::MAX_ITEMS {
            return Err(format!(
                "EASE: {m} items occur in the histories; its dense {m} × {m} matrices need {:.1} GB (at most {} items)",
                3.0 * (m * m * 4) as f64 / 1e9,
                Self::MAX_ITEMS
            ));
        }
        let compact: Vec<Vec<usize>> = baskets
            .iter()
            .map(|basket| basket.iter().map(|&item| index[item].expect("indexed above") as usize).collect())
            .collect();
        let inverse = regularised_gram_inverse(&compact, m, lambda)?;
        Ok(Self { item_count, rows, index, inverse })
    }

    /// How many items the model has (those in the training histories).
    pub fn items(&self) -> usize {
        self.rows.len()
    }

    /// `score_j = Σ_{h ≠ j} B[h, j] = −Σ_{h ≠ j} P[j, h] / P[j, j]` over the
    /// history's distinct items h the model knows.
    pub fn scores(&self, history: &[usize]) -> Vec<f32> {
        let m = self.rows.len();
        let mut sums = vec![0f32; m];
        let known: Vec<usize> =
            distinct(history).into_iter().filter_map(|item| self.index[item]).map(|h| h as usize).collect();
        for &h in &known {
            let column = &self.inverse[h * m..(h + 1) * m];
            sums.iter_mut().zip(column).for_each(|(sum, p)| *sum += p);
        }
        for &h in &known {
            sums[h] -= self.inverse[h * m + h];
        }
        let mut scores = vec![0f32; self.item_count];
        for (j, &row) in self.rows.iter().enumerate() {
            scores[row] = -sums[j] / self.inverse[j * m + j];
        }
        scores
    }
}

/// `(XᵀX + λI)⁻¹`, column-major, for `m` items given each history's distinct
/// items (a dense Cholesky inverse; faer is native only).
#[cfg(not(target_arch = "wasm32"))]
fn regularised_gram_inverse(baskets: &[Vec<usize>], m: usize, lambda: f32) -> Result<Vec<f32>, String> {
    use faer::linalg::solvers::DenseSolveCore;
    use faer::{Mat, Side};

    let mut gram = Mat::<f32>::zeros(m, m);
    for basket in baskets {
        for &a in basket {
            for &b in basket {
                gram[(a, b)] += 1.0;
            }
        }
    }
    for i in 0..m {
        gram[(i, i)] += lambda;
    }
    let inverse = gram
        .llt(Side::Lower)
        .map_err(|e| format!("EASE: XᵀX + λI is not positive definite (λ = {lambda}): {e:?}"))?
        .inverse();
    drop(gram);
    let mut columns = vec![0f32; m * m];
    for (h, column) in columns.chunks_exact_mut(m.max(1)).enumerate() {
        for (j, value) in column.iter_mut().enumerate() {
            *value = inverse[(j, h)];
        }
    }
    Ok(columns)
}

#[cfg(target_arch = "wasm32")]
fn regularised_gram_inverse(_: &[Vec<usize>], _: usize, _: f32) -> Result<Vec<f32>, String> {
    Err("EASE: the dense inverse is built natively only".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 0 and 1 always come together, 2 and 3 together; 4 is alone.
    fn histories() -> Vec<Vec<usize>> {
        vec![vec![0, 1], vec![1, 0, 0], vec![2, 3], vec![3, 2], vec![0, 1, 2], vec![4]]
    }

    #[test]
    fn item_knn_ranks_co_occurring_items_first() {
        let data = histories();
        let refs: Vec<&[usize]> = data.iter().map(Vec::as_slice).collect();
        let knn = ItemKnn::fit(&refs, 6);
        let scores = knn.scores(&[0]);
        // co(0,1) = 3, n0 = n1 = 3: 3 / (3 + 10); co(0,2) = 1, n2 = 3: 1 / 13.
        assert!((scores[1] - 3.0 / 13.0).abs() < 1e-6, "{scores:?}");
        assert!((scores[2] - 1.0 / 13.0).abs() < 1e-6, "{scores:?}");
        assert_eq!((scores[0], scores[3], scores[4], scores[5]), (0.0, 0.0, 0.0, 0.0));
        // A repeated item counts once.
        assert_eq!(knn.scores(&[0, 0]), scores);
    }

    #[test]
    fn ease_matches_the_closed_form_on_a_small_case() {
        let data = histories();
        let refs: Vec<&[usize]> = data.iter().map(Vec::as_slice).collect();
        let lambda = 2.0;
        let ease = Ease::fit(&refs, 6, lambda).unwrap();
        // Item 5 never occurs: it scores 0 and is not in the model.
        assert_eq!(ease.rows.len(), 5);
        // The same B by plain Gauss-Jordan in f64 over items 0..5.
        let n = 5;
        let mut g = vec![vec![0f64; n]; n];
        for h in &data {
            let mut items = h.clone();
            items.sort_unstable();
            items.dedup();
            for &a in &items {
                for &b in &items {
                    g[a][b] += 1.0;
                }
            }
        }
        let p = invert(
            g.iter()
                .enumerate()
                .map(|(i, r)| {
                    r.iter().enumerate().map(|(j, &v)| v + if i == j { lambda as f64 } else { 0.0 }).collect()
                })
                .collect(),
        );
        let b = |i: usize, j: usize| if i == j { 0.0 } else { -p[i][j] / p[j][j] };
        let history = [0usize, 2, 0];
        let scores = ease.scores(&history);
        for (j, &score) in scores.iter().enumerate().take(n) {
            let expected = b(0, j) + b(2, j);
            assert!((score as f64 - expected).abs() < 1e-5, "item {j}: {score} vs {expected}");
        }
        assert_eq!(scores[5], 0.0);
        assert!(scores[1] > scores[3], "1 goes with 0 (twice in the history's items): {scores:?}");
    }

    #[test]
    fn ease_refuses_a_catalog_too_big_for_dense_matrices() {
        let one_each: Vec<Vec<usize>> = (0..Ease::MAX_ITEMS + 1).map(|i| vec![i]).collect();
        let refs: Vec<&[usize]> = one_each.iter().map(Vec::as_slice).collect();
        let error = Ease::fit(&refs, Ease::MAX_ITEMS + 1, 500.0).err().expect("too many items");
        assert!(error.contains("30001 items"), "{error}");
    }

    fn invert(mut a: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let n = a.len();
        let mut inv: Vec<Vec<f64>> =
            (0..n).map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect()).collect();
        for col in 0..n {
            let pivot = a[col][col];
            for j in 0..n {
                a[col][j] /= pivot;
                inv[col][j] /= pivot;
            }
            for row in 0..n {
                if row != col {
                    let factor = a[row][col];
                    for j in 0..n {
                        a[row][j] -= factor * a[col][j];
                        inv[row][j] -= factor * inv[col][j];
                    }
                }
            }
        }
        inv
    }
}
