//! Offline evaluation of next-item recommenders, leave-one-out: each user's
//! last item is the test target, everything before it is the input.
//!
//! Two protocols, as published results use them:
//! - `Sampled`: the target is ranked against 100 items sampled uniformly
//!   (with replacement) from items the user never interacted with (SASRec,
//!   Kang & McAuley 2018, Table III).
//! - `Full`: the target is ranked against every catalog item, the user's
//!   earlier items masked out (S3-Rec / ICLRec full-ranking tables).
//!
//! Shoppers' last baskets (orders) are ranked in full: every target item of
//! the basket new to the shopper counts, the history is excluded as the
//! engine's answers exclude it ([`evaluate_baskets`]).
//!
//! Scores come from a caller-supplied function, so the same code measures
//! the engine and the popularity baseline.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

pub mod baselines;

pub const CUTOFF: usize = 10;
pub const SAMPLED_NEGATIVES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Sampled,
    Full,
}

/// Hit rate and NDCG at [`CUTOFF`], averaged over evaluated users.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub users: usize,
    pub hit_rate: f64,
    pub ndcg: f64,
}

/// Accumulates per-user ranks into [`Metrics`].
#[derive(Debug, Default)]
pub struct MetricsSum {
    users: usize,
    hits: f64,
    gains: f64,
}

impl MetricsSum {
    /// `rank` is 0-based: 0 means the target came first.
    pub fn add(&mut self, rank: usize) {
        self.users += 1;
        if rank < CUTOFF {
            self.hits += 1.0;
            self.gains += 1.0 / ((rank + 2) as f64).log2();
        }
    }

    /// One shopper's basket: `gains` are the discounted gains of the targets
    /// in the top [`CUTOFF`], `ideal` the best possible sum.
    fn add_basket(&mut self, hit: bool, gains: f64, ideal: f64) {
        self.users += 1;
        if hit {
            self.hits += 1.0;
        }
        self.gains += gains / ideal;
    }

    pub fn finish(&self) -> Metrics {
        let n = self.users.max(1) as f64;
        Metrics { users: self.users, hit_rate: self.hits / n, ndcg: self.gains / n }
    }
}

/// 0-based rank of `target` among `candidates`: how many score higher, plus
/// a uniformly random share of those scoring exactly the same, so ties
/// neither help nor hurt on average (they matter for popularity counts).
pub fn rank_of(target: f32, candidates: impl IntoIterator<Item = f32>, rng: &mut SplitMix64) -> usize {
    let (mut above, mut tied) = (0usize, 0usize);
    for score in candidates {
        if score > target {
            above += 1;
        } else if score == target {
            tied += 1;
        }
    }
    above + rng.below(tied as u64 + 1) as usize
}

/// One user's sequence in catalog rows, oldest first.
pub type Sequence = Vec<usize>;

/// Ranks each user's last item given the rest, under `protocol`. Users with
/// fewer than 3 items are skipped (they have no validation/test split in the
/// published protocol). `score` returns one score per catalog item (borrowed
/// when it does not depend on the history, as for popularity).
pub fn evaluate<'s, E>(
    sequences: &[Sequence],
    item_count: usize,
    protocol: Protocol,
    seed: u64,
    mut score: impl FnMut(&[usize]) -> Result<Cow<'s, [f32]>, E>,
) -> Result<Metrics, E> {
    let mut rng = SplitMix64(seed);
    let mut sum = MetricsSum::default();
    for sequence in sequences.iter().filter(|s| s.len() >= 3) {
        let (target, history) = sequence.split_last().expect("length >= 3");
        let scores = score(history)?;
        let seen: HashSet<usize> = sequence.iter().copied().collect();
        let rank = match protocol {
            Protocol::Sampled => {
                let negatives = sample_unseen(&seen, item_count, SAMPLED_NEGATIVES, &mut rng);
                rank_of(scores[*target], negatives.iter().map(|&i| scores[i]), &mut rng)
            }
            Protocol::Full => {
                let masked: HashSet<usize> = history.iter().copied().filter(|i| i != target).collect();
                let others = (0..item_count).filter(|i| i != target && !masked.contains(i));
                rank_of(scores[*target], others.map(|i| scores[i]), &mut rng)
            }
        };
        sum.add(rank);
    }
    Ok(sum.finish())
}

/// A shopper's held-out basket: the items they had before it (oldest first,
/// as the page holds them) and the basket's items new to them; catalog rows,
/// or raw ids as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket<T = usize> {
    pub history: Vec<T>,
    pub targets: Vec<T>,
}

/// Ranks each basket's targets among every item not in its history. HR@10:
/// any target in the top 10; NDCG@10: binary gains over the ideal of
/// min(targets, 10) hits. Ties are split at random as in [`rank_of`].
pub fn evaluate_baskets<'s, E>(
    baskets: &[Basket],
    item_count: usize,
    seed: u64,
    mut score: impl FnMut(&[usize]) -> Result<Cow<'s, [f32]>, E>,
) -> Result<Metrics, E> {
    let mut rng = SplitMix64(seed);
    let mut sum = MetricsSum::default();
    let mut in_history = vec![false; item_count];
    for basket in baskets.iter().filter(|b| !b.targets.is_empty()) {
        let scores = score(&basket.history)?;
        for &item in &basket.history {
            in_history[item] = true;
        }
        let (mut hit, mut gains) = (false, 0.0);
        for &target in &basket.targets {
            let others = (0..item_count).filter(|&i| i != target && !in_history[i]).map(|i| scores[i]);
            let rank = rank_of(scores[target], others, &mut rng);
            if rank < CUTOFF {
                hit = true;
                gains += 1.0 / ((rank + 2) as f64).log2();
            }
        }
        let ideal: f64 = (0..basket.targets.len().min(CUTOFF)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
        sum.add_basket(hit, gains, ideal);
        for &item in &basket.history {
            in_history[item] = false;
        }
    }
    Ok(sum.finish())
}

/// "Complete the basket": for every held-out basket of at least two items,
/// each item in turn is the target and the others are the query; the target
/// is ranked among every item but the others (HR@10 / NDCG@10 per trial).
/// How "frequently bought together" is measured.
pub fn evaluate_completion<'s, E>(
    baskets: &[Basket],
    item_count: usize,
    seed: u64,
    mut score: impl FnMut(&[usize]) -> Result<Cow<'s, [f32]>, E>,
) -> Result<Metrics, E> {
    let mut rng = SplitMix64(seed);
    let mut sum = MetricsSum::default();
    for basket in baskets.iter().filter(|b| b.targets.len() >= 2) {
        for (held, &target) in basket.targets.iter().enumerate() {
            let others: Vec<usize> =
                basket.targets.iter().enumerate().filter(|&(i, _)| i != held).map(|(_, &t)| t).collect();
            let scores = score(&others)?;
            let candidates =
                (0..item_count).filter(|&i| i != target && !others.contains(&i)).map(|i| scores[i]);
            sum.add(rank_of(scores[target], candidates, &mut rng));
        }
    }
    Ok(sum.finish())
}

/// Item popularity over the baskets' histories (the PopRec baseline for
/// basket files: how many tested shoppers had each item before).
pub fn basket_popularity(baskets: &[Basket], item_count: usize) -> Vec<f32> {
    let mut counts = vec![0f32; item_count];
    for basket in baskets {
        for &item in &basket.history {
            counts[item] += 1.0;
        }
    }
    counts
}

/// Parses `user item item ... | target target ...` lines: a history (oldest
/// first) and the held-out basket, as raw ids, in file order.
pub fn parse_baskets(text: &str) -> Result<Vec<Basket<String>>, String> {
    let mut baskets = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (before, after) = line
            .split_once('|')
            .ok_or_else(|| format!("line {}: no `|` between the history and the basket", number + 1))?;
        let history: Vec<String> = before.split_whitespace().skip(1).map(str::to_owned).collect();
        let targets: Vec<String> = after.split_whitespace().map(str::to_owned).collect();
        if history.is_empty() || targets.is_empty() {
            return Err(format!(
                "line {}: needs a user, at least one history item and one basket item",
                number + 1
            ));
        }
        baskets.push(Basket { history, targets });
    }
    Ok(baskets)
}

/// Whether a data file holds baskets (`|` lines) rather than sequences.
pub fn is_basket_file(text: &str) -> bool {
    text.lines().any(|line| line.contains('|'))
}

/// `count` items drawn uniformly with replacement from items not in `seen`.
fn sample_unseen(seen: &HashSet<usize>, item_count: usize, count: usize, rng: &mut SplitMix64) -> Vec<usize> {
    assert!(seen.len() < item_count, "a user has interacted with every item");
    let mut sampled = Vec::with_capacity(count);
    while sampled.len() < count {
        let item = rng.below(item_count as u64) as usize;
        if !seen.contains(&item) {
            sampled.push(item);
        }
    }
    sampled
}

/// Item popularity over the inputs (each sequence minus its test item): the
/// PopRec baseline's scores.
pub fn popularity(sequences: &[Sequence], item_count: usize) -> Vec<f32> {
    let mut counts = vec![0f32; item_count];
    for sequence in sequences {
        for &item in &sequence[..sequence.len().saturating_sub(1)] {
            counts[item] += 1.0;
        }
    }
    counts
}

/// Parses `user item` lines (grouped by user, chronological) or
/// `user item item ...` lines into per-user raw-id sequences, in file order.
pub fn parse_sequences(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut order: Vec<String> = Vec::new();
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(user) = fields.next() else { continue };
        let items: Vec<String> = fields.map(str::to_owned).collect();
        if items.is_empty() {
            return Err(format!("line {}: a user id with no item", number + 1));
        }
        by_user
            .entry(user.to_owned())
            .or_insert_with(|| {
                order.push(user.to_owned());
                Vec::new()
            })
            .extend(items);
    }
    Ok(order.into_iter().map(|user| by_user.remove(&user).unwrap_or_default()).collect())
}

/// Small seeded generator (SplitMix64): evaluations are reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}
