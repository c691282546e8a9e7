//! "Recommended for you": matrix-factorisation scores (user factor · item
//! factor). A shopper is folded in from their on-device history by
//! regularised least squares against the item factors:
//! u = (VᵀV + λI)⁻¹ Vᵀ r, with r = 1 on the history. (A research bundle's
//! known users bring their trained factor instead: [`FactorModel::for_user`].)

use std::ops::Range;

use thiserror::Error;

use crate::kernel::{search, Hit, ItemMatrix, RowSet};

#[derive(Debug, Error, PartialEq)]
pub enum FoldInError {
    #[error("VᵀV + λI is not positive definite (λ = {lambda}); the bundle's factors are degenerate")]
    NotPositiveDefinite { lambda: f64 },
    #[error("this shard's factor model has not been given the whole catalog's VᵀV yet")]
    Incomplete,
    #[error("a VᵀV of {found} finite values was given, the factors need {expected}")]
    WrongGram { expected: usize, found: usize },
}

#[derive(Debug, Clone)]
pub struct FactorModel {
    items: ItemMatrix,
    lambda: f64,
    /// Lower-triangular Cholesky factor of VᵀV + λI, computed once at load;
    /// empty in a shard until [`Self::complete`] gives it the whole VᵀV.
    gram_cholesky: Vec<f64>,
}

impl FactorModel {
    pub fn new(items: ItemMatrix, lambda: f64) -> Result<Self, FoldInError> {
        let mut model = Self::part(items, lambda);
        model.complete(&gram(&model.items))?;
        Ok(model)
    }

    /// A shard's model over its rows of V: it folds in only once
    /// [`Self::complete`] has the Gram matrix of every shard's rows summed.
    pub fn part(items: ItemMatrix, lambda: f64) -> Self {
        Self { items, lambda, gram_cholesky: Vec::new() }
    }

    /// VᵀV over the rows this model holds (dim × dim, row-major).
    pub fn gram(&self) -> Vec<f64> {
        gram(&self.items)
    }

    /// Factorises `whole_gram` (VᵀV over the whole catalog) + λI.
    pub fn complete(&mut self, whole_gram: &[f64]) -> Result<(), FoldInError> {
        let dim = self.items.cols();
        let lambda = self.lambda;
        if whole_gram.len() != dim * dim || whole_gram.iter().any(|v| !v.is_finite()) {
            let found = whole_gram.iter().filter(|v| v.is_finite()).count();
            return Err(FoldInError::WrongGram { expected: dim * dim, found });
        }
        let mut regularised = whole_gram.to_vec();
        for i in 0..dim {
            regularised[i * dim + i] += lambda;
        }
        self.gram_cholesky =
            cholesky(&regularised, dim).ok_or(FoldInError::NotPositiveDefinite { lambda })?;
        Ok(())
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
    pub fn fold_in(&self, history: &RowSet) -> Result<Vec<f32>, FoldInError> {
        self.solve(self.history_sum(history, 0..self.items.rows()))
    }

    /// Vᵀ r over the history rows in `held`, the rows this model holds
    /// (a shard's part of the right-hand side).
    pub fn history_sum(&self, history: &RowSet, held: Range<usize>) -> Vec<f64> {
        let mut rhs = vec![0.0f64; self.items.cols()];
        for &item in history.rows().iter().filter(|item| held.contains(item)) {
            for (acc, v) in rhs.iter_mut().zip(self.items.row(item - held.start)) {
                *acc += f64::from(v);
            }
        }
        rhs
    }

    /// The folded-in factor for the right-hand side Vᵀ r.
    pub fn solve(&self, mut rhs: Vec<f64>) -> Result<Vec<f32>, FoldInError> {
        let dim = self.items.cols();
        if self.gram_cholesky.len() != dim * dim || rhs.len() != dim {
            return Err(FoldInError::Incomplete);
        }
        solve_cholesky(&self.gram_cholesky, dim, &mut rhs);
        Ok(rhs.into_iter().map(|v| v as f32).collect())
    }

    /// Best `k` items for an anonymous shopper, history excluded.
    pub fn for_history(
        &self,
        history: &RowSet,
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, FoldInError> {
        Ok(search(&self.items, &self.fold_in(history)?, k, |i| !history.contains(i) && keep(i)))
    }

    /// The score of every item for a shopper folded in from `history`.
    pub fn scores_for_history(&self, history: &RowSet) -> Result<Vec<f32>, FoldInError> {
        Ok(self.items.scores(&self.fold_in(history)?))
    }
}

fn gram(items: &ItemMatrix) -> Vec<f64> {
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
