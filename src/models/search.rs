//! Text search over the catalog: BM25 over each item's title and categories
//! (document length = title length).
//! The engine re-ranks these matches with the shopper's folded-in vector; this
//! module only knows text.
//!
//! A query word the catalog does not have is matched forgivingly, as shop
//! search engines do: to catalog words within an edit distance of 1 (4 to 7
//! letters) or 2 (8 or more), or to two catalog words it runs together
//! ("scifi"). The last word of a query not ending in a space also matches
//! the words it begins (search as you type). Such matches count at a
//! fraction of an exact one's BM25. The edit distance counts a swap of two
//! neighbouring letters as one edit (optimal string alignment), and is
//! computed only for catalog words of a close length, stopping as soon as
//! the distance is passed. (An FST with Levenshtein automata, the `fst`
//! crate, was measured too, back to back under the same load at 49,688
//! products: a query with a swapped pair of letters took 432 µs against this
//! scan's 570 µs, though its Levenshtein distance, counting a swap as two
//! edits, matched fewer words; and it added 32 KB to the gzipped core wasm,
//! which would put that past its 200 KB budget.)

use std::collections::HashMap;

use crate::catalog::Catalog;

/// The share of BM25 a word matched by a typo, a join or a prefix gets.
const TYPO_WEIGHT: f32 = 0.6;
const JOINED_WEIGHT: f32 = 0.8;
const PREFIX_WEIGHT: f32 = 0.8;
/// At most this many catalog words stand in for one query word.
const MAX_EXPANSIONS: usize = 24;

/// BM25 parameters (the usual defaults for short documents).
const K1: f32 = 1.2;
const B: f32 = 0.75;

#[derive(Debug, Clone)]
pub struct TextIndex {
    /// term -> (item row, term frequency) postings.
    postings: HashMap<String, Vec<(usize, u16)>>,
    /// The same words, sorted, as characters: for typo and prefix lookups.
    words: Vec<Vec<char>>,
    lengths: Vec<u16>,
    average_length: f32,
}

impl TextIndex {
    pub fn new(catalog: &Catalog) -> Self {
        let mut postings: HashMap<String, Vec<(usize, u16)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(catalog.len());
        for (row, item) in catalog.items().iter().enumerate() {
            let mut counts: HashMap<String, u16> = HashMap::new();
            let mut length = 0u16;
            for term in tokens(&item.title) {
                let count = counts.entry(term).or_default();
                *count = count.saturating_add(1);
                length = length.saturating_add(1);
            }
            // Categories match but do not count toward the length, so an item
            // with many genres is not ranked below one with few.
            for term in item.categories.iter().flat_map(|c| tokens(c)) {
                let count = counts.entry(term).or_default();
                *count = count.saturating_add(1);
            }
            for (term, count) in counts {
                postings.entry(term).or_default().push((row, count));
            }
            lengths.push(length);
        }
        let total: f32 = lengths.iter().map(|&l| f32::from(l)).sum();
        let average_length = if lengths.is_empty() { 1.0 } else { (total / lengths.len() as f32).max(1.0) };
        let mut words: Vec<Vec<char>> = postings.keys().map(|w| w.chars().collect()).collect();
        words.sort();
        Self { postings, words, lengths, average_length }
    }

    /// The catalog words standing in for query word `word`, with the share
    /// of BM25 each gets: the word itself, else typo, join and (for the last
    /// word while typing) prefix matches.
    fn expand(&self, word: &str, typing: bool) -> Vec<(String, f32)> {
        let mut found: Vec<(String, f32)> = Vec::new();
        if self.postings.contains_key(word) {
            found.push((word.to_owned(), 1.0));
        } else {
            let letters: Vec<char> = word.chars().collect();
            if letters.len() >= 4 {
                let distance = if letters.len() >= 8 { 2 } else { 1 };
                let near = self.words.iter().filter(|w| within(&letters, w, distance));
                found.extend(near.take(MAX_EXPANSIONS).map(|w| (w.iter().collect(), TYPO_WEIGHT)));
                let chars: Vec<(usize, char)> = word.char_indices().collect();
                for &(at, _) in &chars[2..chars.len() - 1] {
                    let (left, right) = word.split_at(at);
                    if self.postings.contains_key(left) && self.postings.contains_key(right) {
                        found.push((left.to_owned(), JOINED_WEIGHT));
                        found.push((right.to_owned(), JOINED_WEIGHT));
                    }
                }
            }
        }
        if typing && !word.is_empty() {
            let prefix: Vec<char> = word.chars().collect();
            let start = self.words.partition_point(|w| w.as_slice() < prefix.as_slice());
            let longer = self.words[start..]
                .iter()
                .take_while(|w| w.starts_with(&prefix))
                .filter(|w| w.len() > prefix.len());
            found.extend(longer.take(MAX_EXPANSIONS).map(|w| (w.iter().collect(), PREFIX_WEIGHT)));
        }
        found
    }

    /// Every item that matches at least one query term, in row order; empty
    /// when no term matches.
    /// A query's last word counts as typed in part (search as you type)
    /// unless the query ends in a space.
    pub fn matches(&self, query: &str) -> Vec<Match> {
        let item_count = self.lengths.len() as f32;
        // Per row: its match, and the last query word it was counted for.
        let mut scores: HashMap<usize, (Match, usize)> = HashMap::new();
        let words: Vec<String> = tokens(query).collect();
        let typing = !query.ends_with(char::is_whitespace);
        let mut seen: Vec<&String> = Vec::new();
        for (index, word) in words.iter().enumerate() {
            if seen.contains(&word) {
                continue;
            }
            seen.push(word);
            for (term, weight) in self.expand(word, typing && index + 1 == words.len()) {
                let Some(postings) = self.postings.get(&term) else { continue };
                let df = postings.len() as f32;
                let idf = ((item_count - df + 0.5) / (df + 0.5) + 1.0).ln();
                for &(row, tf) in postings {
                    let tf = f32::from(tf);
                    let norm = 1.0 - B + B * f32::from(self.lengths[row]) / self.average_length;
                    let (entry, counted) =
                        scores.entry(row).or_insert((Match { row, terms: 0, bm25: 0.0 }, usize::MAX));
                    // A word counts once however many of its stand-ins an item has.
                    if *counted != index {
                        entry.terms += 1;
                        *counted = index;
                    }
                    entry.bm25 += weight * idf * tf * (K1 + 1.0) / (tf + K1 * norm);
                }
            }
        }
        let mut matches: Vec<Match> = scores.into_values().map(|(m, _)| m).collect();
        matches.sort_by_key(|m| m.row);
        matches
    }
}

/// One matching item: how many distinct query terms it contains, and its BM25.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub row: usize,
    pub terms: usize,
    pub bm25: f32,
}

/// Whether `a` and `b` are at most `max` edits apart (insertions, deletions,
/// substitutions, swaps of neighbours), giving up as soon as every path has
/// passed `max`.
fn within(a: &[char], b: &[char], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let width = b.len() + 1;
    let (mut before, mut previous, mut current): (Vec<usize>, Vec<usize>, Vec<usize>) =
        (vec![0; width], (0..width).collect(), vec![0; width]);
    for i in 1..=a.len() {
        current[0] = i;
        let mut best = current[0];
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
            best = best.min(d);
        }
        if best > max {
            return false;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()] <= max
}

/// Lower-cased alphanumeric words ("Sci-Fi" -> "sci", "fi").
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}
