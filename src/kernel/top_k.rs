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
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Worst> = BinaryHeap::with_capacity(k.min(scores.len()) + 1);
    // The worst kept score once k are kept: most rows score below it, and a
    // plain comparison turns them away before the full ranking order is asked.
    let mut bar = f32::NEG_INFINITY;
    for (index, &score) in scores.iter().enumerate() {
        if score < bar {
            continue;
        }
        let hit = Hit { index, score };
        if heap.len() == k {
            let worst = &heap.peek().expect("heap holds k > 0 hits").0;
            if hit.rank_cmp(worst) != Ordering::Less {
                continue;
            }
        }
        if !keep(index) {
            continue;
        }
        heap.push(Worst(hit));
        if heap.len() > k {
            heap.pop();
        }
        if heap.len() == k {
            bar = heap.peek().expect("heap holds k > 0 hits").0.score;
        }
    }
    let mut hits: Vec<Hit> = heap.into_iter().map(|w| w.0).collect();
    hits.sort_by(Hit::rank_cmp);
    hits
}
