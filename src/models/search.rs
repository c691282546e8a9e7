//! Text search over the catalog: BM25 over each item's title and categories
//! (document length = title length).
//! The engine re-ranks these matches with the shopper's folded-in vector; this
//! module only knows text.

use std::collections::HashMap;

use crate::catalog::Catalog;

/// BM25 parameters (the usual defaults for short documents).
const K1: f32 = 1.2;
const B: f32 = 0.75;

#[derive(Debug, Clone)]
pub struct TextIndex {
    /// term -> (item row, term frequency) postings.
    postings: HashMap<String, Vec<(usize, u16)>>,
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
        Self { postings, lengths, average_length }
    }

    /// Every item that matches at least one query term, in row order; empty
    /// when no term matches.
    pub fn matches(&self, query: &str) -> Vec<Match> {
        let item_count = self.lengths.len() as f32;
        let mut scores: HashMap<usize, Match> = HashMap::new();
        let mut terms: Vec<String> = tokens(query).collect();
        terms.sort();
        terms.dedup();
        for term in &terms {
            let Some(postings) = self.postings.get(term) else { continue };
            let df = postings.len() as f32;
            let idf = ((item_count - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(row, tf) in postings {
                let tf = f32::from(tf);
                let norm = 1.0 - B + B * f32::from(self.lengths[row]) / self.average_length;
                let entry = scores.entry(row).or_insert(Match { row, terms: 0, bm25: 0.0 });
                entry.terms += 1;
                entry.bm25 += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
            }
        }
        let mut matches: Vec<Match> = scores.into_values().collect();
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

/// Lower-cased alphanumeric words ("Sci-Fi" -> "sci", "fi").
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}
