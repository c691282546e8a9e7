//! Text search over the catalog: BM25 over each item's title and categories
//! (document length = title length).
//! The engine re-ranks these matches with the shopper's folded-in vector; this
//! module only knows text.
//!
//! A query word is matched forgivingly, as shop search engines do: also to
//! catalog words within an edit distance of 1 (4 to 7 letters) or 2 (8 or
//! more), each edit a typo, and, as one typo, to two catalog words it runs
//! together ("scifi") in an item holding both. The last word of a query not
//! ending in a space also matches the words it begins (search as you type).
//! Each match records its typos, so the engine ranks fewer typos first;
//! such matches count at a fraction of an exact one's BM25. The edit
//! distance counts a swap of two neighbouring letters as one edit (optimal
//! string alignment), and is
//! computed only for catalog words of a close length, stopping as soon as
//! the distance is passed. (An FST with Levenshtein automata, the `fst`
//! crate, was measured too, back to back under the same load at 49,688
//! products: a query with a swapped pair of letters took 432 µs against this
//! scan's 570 µs, though its Levenshtein distance, counting a swap as two
//! edits, matched fewer words; and it added 32 KB to the gzipped core
//! wasm.)

use std::collections::HashMap;

use crate::catalog::Catalog;

/// The share of BM25 a word matched by a typo, a join or a prefix gets.
const TYPO_WEIGHT: f32 = 0.6;
const JOINED_WEIGHT: f32 = 0.8;
const PREFIX_WEIGHT: f32 = 0.8;
/// At most this many catalog words stand in for one query word.
const MAX_EXPANSIONS: usize = 24;
/// A query's first this many distinct words count: each costs a pass over
/// the catalog's words, and no shopper types more.
const MAX_QUERY_WORDS: usize = 32;

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

    /// The catalog words standing in for query word `word`: the word itself,
    /// catalog words within its typo distance, and for the last word while
    /// typing, the words it begins. Typo matches are looked for even when
    /// the word exists (a catalog may hold a misspelling), and rank below it.
    fn expand(&self, word: &str, typing: bool) -> Vec<StandIn> {
        let mut found: Vec<StandIn> = Vec::new();
        if self.postings.contains_key(word) {
            found.push(StandIn { term: word.to_owned(), typos: 0, weight: 1.0 });
        }
        let letters: Vec<char> = word.chars().collect();
        if letters.len() >= 4 {
            let max = if letters.len() >= 8 { 2 } else { 1 };
            let near = self.words.iter().filter_map(|w| Some((w, distance_within(&letters, w, max)?)));
            found.extend(
                near.filter(|&(_, typos)| typos > 0).take(MAX_EXPANSIONS).map(|(w, typos)| StandIn {
                    term: w.iter().collect(),
                    typos,
                    weight: TYPO_WEIGHT,
                }),
            );
        }
        if typing && !letters.is_empty() {
            let start = self.words.partition_point(|w| w.as_slice() < letters.as_slice());
            let longer = self.words[start..]
                .iter()
                .take_while(|w| w.starts_with(&letters))
                .filter(|w| w.len() > letters.len());
            found.extend(longer.take(MAX_EXPANSIONS).map(|w| StandIn {
                term: w.iter().collect(),
                typos: 0,
                weight: PREFIX_WEIGHT,
            }));
        }
        found
    }

    /// Two catalog words `word` runs together ("scifi": "sci", "fi").
    fn splits(&self, word: &str) -> Vec<(String, String)> {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() < 4 {
            return Vec::new();
        }
        chars[2..chars.len() - 1]
            .iter()
            .map(|&(at, _)| word.split_at(at))
            .filter(|(left, right)| self.postings.contains_key(*left) && self.postings.contains_key(*right))
            .map(|(left, right)| (left.to_owned(), right.to_owned()))
            .collect()
    }

    /// BM25 of `term` in each item that has it, times `weight`, with `idf`
    /// (the term's own unless given).
    fn scored(&self, term: &str, weight: f32, idf: Option<f32>) -> impl Iterator<Item = (usize, f32)> + '_ {
        let postings = self.postings.get(term).map_or(&[][..], Vec::as_slice);
        let idf = idf.unwrap_or_else(|| self.idf(postings.len()));
        postings.iter().map(move |&(row, tf)| {
            let tf = f32::from(tf);
            let norm = 1.0 - B + B * f32::from(self.lengths[row]) / self.average_length;
            (row, weight * idf * tf * (K1 + 1.0) / (tf + K1 * norm))
        })
    }

    fn idf(&self, df: usize) -> f32 {
        let (n, df) = (self.lengths.len() as f32, df as f32);
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// Every item that matches at least one query word, in row order; empty
    /// when none does. Per item and query word, the stand-in with the fewest
    /// typos counts (then the highest BM25). A query's last word counts as
    /// typed in part (search as you type) unless the query ends in a space.
    pub fn matches(&self, query: &str) -> Vec<Match> {
        let mut scores: HashMap<usize, Match> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut all = tokens(query);
        for word in all.by_ref() {
            if !words.contains(&word) {
                words.push(word);
                if words.len() == MAX_QUERY_WORDS {
                    break;
                }
            }
        }
        // A word cut off by the limit is not the one being typed.
        let typing = !query.ends_with(char::is_whitespace) && all.next().is_none();
        for (index, word) in words.iter().enumerate() {
            // Per item: this word's best stand-in (terms 1).
            let mut best: HashMap<usize, Match> = HashMap::new();
            let mut offer = |row: usize, typos: usize, bm25: f32| {
                let entry = best.entry(row).or_insert(Match { row, terms: 1, typos, bm25 });
                if (typos, -bm25) < (entry.typos, -entry.bm25) {
                    (entry.typos, entry.bm25) = (typos, bm25);
                }
            };
            let stand_ins = self.expand(word, typing && index + 1 == words.len());
            // Misspellings and word beginnings share the idf of the most common
            // of them, so a rare misspelling in the catalog does not outrank
            // the word meant.
            let common = stand_ins
                .iter()
                .filter(|s| s.weight < 1.0)
                .map(|s| self.idf(self.postings[&s.term].len()))
                .reduce(f32::min);
            for stand_in in &stand_ins {
                let idf = if stand_in.weight < 1.0 { common } else { None };
                for (row, bm25) in self.scored(&stand_in.term, stand_in.weight, idf) {
                    offer(row, stand_in.typos, bm25);
                }
            }
            // A join counts (as one typo) only in an item holding both words;
            // postings are in row order, so the two lists merge.
            for (left, right) in self.splits(word) {
                let mut right = self.scored(&right, JOINED_WEIGHT, None).peekable();
                for (row, bm25) in self.scored(&left, JOINED_WEIGHT, None) {
                    while right.next_if(|&(other, _)| other < row).is_some() {}
                    if let Some((_, other)) = right.next_if(|&(other, _)| other == row) {
                        offer(row, 1, (bm25 + other) / 2.0);
                    }
                }
            }
            for found in best.into_values() {
                let entry =
                    scores.entry(found.row).or_insert(Match { terms: 0, typos: 0, bm25: 0.0, ..found });
                entry.terms += 1;
                entry.typos += found.typos;
                entry.bm25 += found.bm25;
            }
        }
        let mut matches: Vec<Match> = scores.into_values().collect();
        matches.sort_by_key(|m| m.row);
        matches
    }
}

/// A catalog word standing in for a query word.
struct StandIn {
    term: String,
    typos: usize,
    weight: f32,
}

/// One matching item: how many distinct query words it contains, with how
/// many typos in all, and its BM25.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub row: usize,
    pub terms: usize,
    pub typos: usize,
    pub bm25: f32,
}

/// The edit distance of `a` and `b` (insertions, deletions, substitutions,
/// swaps of neighbours) if at most `max`, giving up as soon as every path
/// has passed `max`.
fn distance_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
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
            return None;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    Some(previous[b.len()]).filter(|&d| d <= max)
}

/// Lower-cased alphanumeric words ("Sci-Fi" -> "sci", "fi").
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Limits;
    use crate::catalog::Item;

    fn index(titles: &[(&str, &[&str])]) -> TextIndex {
        let items = titles
            .iter()
            .enumerate()
            .map(|(i, (title, categories))| Item {
                id: i.to_string(),
                title: (*title).into(),
                categories: categories.iter().map(|c| (*c).into()).collect(),
                attributes: Default::default(),
            })
            .collect();
        TextIndex::new(&Catalog::new(items, &Limits::default()).unwrap())
    }

    fn best_first(index: &TextIndex, query: &str) -> Vec<(usize, usize, usize)> {
        let mut found: Vec<Match> = index.matches(query);
        found.sort_by(|a, b| {
            b.terms.cmp(&a.terms).then(a.typos.cmp(&b.typos)).then(b.bm25.total_cmp(&a.bm25))
        });
        found.iter().map(|m| (m.row, m.terms, m.typos)).collect()
    }

    #[test]
    fn typo_matches_count_their_edits_and_are_found_beside_an_exact_word() {
        let index = index(&[
            ("Spinach", &[]),
            ("Spinaci Pizza", &[]),
            ("Lentil Crackers And Humus", &[]),
            ("Hummus", &[]),
        ]);
        // "spinnach": spinach is one edit away, spinaci two.
        assert_eq!(best_first(&index, "spinnach "), [(0, 1, 1), (1, 1, 2)]);
        // "humus" is in the catalog, and hummus, one edit away, is still found after it.
        assert_eq!(best_first(&index, "humus "), [(2, 1, 0), (3, 1, 1)]);
    }

    #[test]
    fn a_run_together_word_matches_only_items_with_both_halves() {
        let index =
            index(&[("Toma Cheese", &[]), ("Sci-Fi Classics", &[]), ("Fi Bars", &[]), ("Sci Kit", &["Fi"])]);
        // "scifi": item 1 has both words, item 3 both through its category; items 0 and 2 neither.
        let rows: Vec<usize> = best_first(&index, "scifi ").iter().map(|m| m.0).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows.contains(&1) && rows.contains(&3), "{rows:?}");
        // "tomatoe" is no join of "toma" and a word of the same item.
        assert!(best_first(&index, "tomatoe ").is_empty());
    }

    #[test]
    fn only_the_first_words_of_a_long_query_count() {
        let index = index(&[("Green Tea", &[]), ("Black Tea", &[])]);
        let filler: String = (0..100_000).map(|i| format!("w{i} ")).collect();
        assert!(index.matches(&filler).is_empty());
        assert!(index.matches(&format!("{filler}tea ")).is_empty(), "word 100,001 is past the limit");
        assert_eq!(index.matches(&format!("green {filler}")).len(), 1);
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one_and_stops_past_the_bound() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(distance_within(&chars("fargo"), &chars("fargoo"), 1), Some(1));
        assert_eq!(distance_within(&chars("pulp"), &chars("plup"), 1), Some(1));
        assert_eq!(distance_within(&chars("lemonaid"), &chars("lemonade"), 2), Some(2));
        assert_eq!(distance_within(&chars("lemonaid"), &chars("lemonade"), 1), None);
    }
}
