//! Top-k selection with a deterministic order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One ranked row: its index in the item matrix and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f32,
}

impl Hit {
    /// Ranking order: higher score first, then lower index first, so equal
    /// scores always come back in the same order on every platform.
    /// `+ 0.0` turns -0.0 into +0.0, so they tie as the equal values they are;
    /// `total_cmp` keeps the order total even for a NaN.
    pub(crate) fn rank_cmp(&self, other: &Self) -> Ordering {
        (other.score + 0.0).total_cmp(&(self.score + 0.0)).then(self.index.cmp(&other.index))
    }
}

/// Heap entry ordered so the heap's top is the worst hit kept so far.
struct Worst(Hit);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank_cmp(&other.0)
    }
}

/// The best `k` indices of `scores` for which `keep(index)` is true, best
/// first. Fewer than `k` come back when fewer are kept.
pub fn top_k(scores: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
    let mut best = TopK::new(k, scores.len());
    for (index, &score) in scores.iter().enumerate() {
        best.offer(index, score, &keep);
    }
    best.into_hits()
}

/// The best `k` of the rows offered to it, one at a time, so a scan can rank
/// as it scores, without holding every score.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
    /// The worst kept score once k are kept: most rows score below it, and a
    /// plain comparison turns them away before the full ranking order is asked.
    bar: f32,
}

impl TopK {
    /// For the best `k` of at most `rows` rows.
    pub fn new(k: usize, rows: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k.min(rows) + 1), bar: f32::NEG_INFINITY }
    }

    /// Keeps row `index` if it ranks among the best `k` so far and `keep`
    /// accepts it (asked only of rows that would be kept).
    #[inline(always)]
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn offer(&mut self, index: usize, score: f32, keep: impl Fn(usize) -> bool) {
        // The one comparison most rows get (a NaN on either side fails it
        // and is ranked in full); the rest out of line.
        if !(score < self.bar) {
            self.consider(Hit { index, score }, keep);
        }
    }

    #[inline(never)]
    fn consider(&mut self, hit: Hit, keep: impl Fn(usize) -> bool) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            if keep(hit.index) {
                self.heap.push(Worst(hit));
                self.set_bar();
            }
            return;
        }
        let mut worst = self.heap.peek_mut().expect("heap holds k > 0 hits");
        if hit.rank_cmp(&worst.0) == Ordering::Less && keep(hit.index) {
            // Replaced in place: one sift down instead of a push and a pop.
            *worst = Worst(hit);
            drop(worst);
            self.set_bar();
        }
    }

    fn set_bar(&mut self) {
        if self.heap.len() == self.k {
            self.bar = self.heap.peek().expect("heap holds k > 0 hits").0.score;
        }
    }

    /// The rows kept, best first.
    pub fn into_hits(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        hits.sort_by(Hit::rank_cmp);
        hits
    }
}
