//! "Recommended for you": matrix-factorisation scores (user factor · item
//! factor). A shopper is folded in from their on-device history by
//! regularised least squares against the item factors:
//! u = (VᵀV + λI)⁻¹ Vᵀ r, with r = 1 on the history. (A research bundle's
//! known users bring their trained factor instead: [`FactorModel::for_user`].)

use thiserror::Error;

use crate::kernel::{search, Hit, ItemMatrix, RowSet};

#[derive(Debug, Error, PartialEq)]
pub enum FoldInError {
    #[error("VᵀV + λI is not positive definite (λ = {lambda}); the bundle's factors are degenerate")]
    NotPositiveDefinite { lambda: f64 },
}

#[derive(Debug, Clone)]
pub struct FactorModel {
    items: ItemMatrix,
    /// Lower-triangular Cholesky factor of VᵀV + λI, computed once at load.
    gram_cholesky: Vec<f64>,
}

impl FactorModel {
    pub fn new(items: ItemMatrix, lambda: f64) -> Result<Self, FoldInError> {
        let gram_cholesky = cholesky(&regularised_gram(&items, lambda), items.cols())
            .ok_or(FoldInError::NotPositiveDefinite { lambda })?;
        Ok(Self { items, gram_cholesky })
    }

    /// The item factors queries are scored against.
    pub fn items(&self) -> &ItemMatrix {
        &self.items
    }

    /// Best `k` items for a user whose trained factor is `user_factor`.
    pub fn for_user(&self, user_factor: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
        search(&self.items, user_factor, k, keep)
    }

    /// The folded-in factor vector of a shopper who interacted with
    /// `history` (a set: repeats count once, as in training).
    pub fn fold_in(&self, history: &RowSet) -> Vec<f32> {
        let dim = self.items.cols();
        let mut rhs = vec![0.0f64; dim];
        for &item in history.rows() {
            for (acc, v) in rhs.iter_mut().zip(self.items.row(item)) {
                *acc += f64::from(v);
            }
        }
        solve_cholesky(&self.gram_cholesky, dim, &mut rhs);
        rhs.into_iter().map(|v| v as f32).collect()
    }

    /// Best `k` items for an anonymous shopper, history excluded.
    pub fn for_history(&self, history: &RowSet, k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
        search(&self.items, &self.fold_in(history), k, |i| !history.contains(i) && keep(i))
    }

    /// The score of every item for a shopper folded in from `history`.
    pub fn scores_for_history(&self, history: &RowSet) -> Vec<f32> {
        self.items.scores(&self.fold_in(history))
    }
}

fn regularised_gram(items: &ItemMatrix, lambda: f64) -> Vec<f64> {
    let dim = items.cols();
    let mut gram = vec![0.0f64; dim * dim];
    for r in 0..items.rows() {
        let row = items.row(r);
        for i in 0..dim {
            let vi = f64::from(row[i]);
            for j in 0..=i {
                gram[i * dim + j] += vi * f64::from(row[j]);
            }
        }
    }
    for i in 0..dim {
        gram[i * dim + i] += lambda;
        for j in 0..i {
            gram[j * dim + i] = gram[i * dim + j];
        }
    }
    gram
}

/// Lower-triangular L with L Lᵀ = a, or None if `a` is not positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|p| l[i * n + p] * l[j * n + p]).sum();
            if i == j {
                let d = a[i * n + i] - dot;
                if d.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L Lᵀ x = b in place.
fn solve_cholesky(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let dot: f64 = (0..i).map(|p| l[i * n + p] * b[p]).sum();
        b[i] = (b[i] - dot) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|p| l[p * n + i] * b[p]).sum();
        b[i] = (b[i] - dot) / l[i * n + i];
    }
}
