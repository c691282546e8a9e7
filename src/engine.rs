//! The façade: one verified bundle, every question answered from it.
//!
//! [`Engine::load`] verifies the bundle, builds the models and re-runs the
//! bundle's parity cases; an engine that exists has passed all of them.
//! Every answer carries the bundle version that produced it.

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bundle::{
    Bundle, BundleError, BundleFiles, Expected, LoadOptions, Manifest, NextUpParts, ParityCase, Shard,
    Together, VerifiedShard,
};
use crate::catalog::Catalog;
use crate::kernel::{search_with, top_k, Hit, ItemMatrix, Matrix, RowSet};
use crate::models::{
    FactorModel, FoldInError, SequenceError, SequenceModel, SimilarItems, TextIndex, ENCODERS_BUILT_IN,
};
use crate::rules::{Compiled, Rules, RulesError};

/// How search ranks: items containing more of the query's distinct words
/// come first (so an exact title beats partial matches); then those with
/// fewer typos (a word matched by a misspelling or by running two words
/// together); among those, by BM25 / best BM25 + SEARCH_PERSONAL_WEIGHT ×
/// (rank of the item's fold-in score among the matches, scaled to 0..1). Taste reorders matches of
/// similar relevance; it never lifts a partial match above a fuller one.
pub const SEARCH_PERSONAL_WEIGHT: f32 = 0.5;

/// Queries against the popularity matrix (columns: trending, all time).
const TRENDING: [f32; 2] = [1.0, 0.0];
const POPULAR: [f32; 2] = [0.0, 1.0];

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    FoldIn(#[from] FoldInError),
    #[error("next_up: {0}")]
    Sequence(#[from] SequenceError),
    #[error("parity case {case} ({input}) disagrees with the training side: {reason}")]
    Parity { case: usize, input: String, reason: String },
    #[error("k must be at least 1, got {k}")]
    InvalidK { k: usize },
    #[error("unknown item id {id:?}")]
    UnknownItem { id: String },
    #[error("unknown user id {id:?}")]
    UnknownUser { id: String },
    #[error("unknown category {name:?}")]
    UnknownCategory { name: String },
    #[error("history has no item this catalog knows (skipped: {skipped:?})")]
    EmptyHistory { skipped: Vec<String> },
    #[error("this bundle has no {model:?} model")]
    ModelMissing { model: &'static str },
    #[error(
        "the {model:?} model is not in this build of the engine (the core build); the full build loads it"
    )]
    NotInThisBuild { model: &'static str },
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(
        "this engine holds shard {index} of {count} of the version: ask through the shards (docs/shards.md)"
    )]
    PartOfVersion { index: usize, count: usize },
    #[error("a query part of {found} values was given, the {model:?} model needs {expected}")]
    BadQueryPart { model: &'static str, expected: usize, found: usize },
    #[error("no parity case {case} of a split model: the bundle has {cases} cases")]
    NoParityCase { case: usize, cases: usize },
}

impl EngineError {
    /// Stable machine-readable code, carried to JS as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Bundle(e) => e.code(),
            Self::FoldIn(_) => "bundle_degenerate_factors",
            Self::Sequence(SequenceError::Run { .. }) => "inference_failed",
            Self::Sequence(_) => "bundle_bad_encoder",
            Self::Parity { .. } => "bundle_parity_failed",
            Self::InvalidK { .. } => "invalid_k",
            Self::UnknownItem { .. } => "unknown_item",
            Self::UnknownUser { .. } => "unknown_user",
            Self::UnknownCategory { .. } => "unknown_category",
            Self::EmptyHistory { .. } => "empty_history",
            Self::ModelMissing { .. } => "model_missing",
            Self::NotInThisBuild { .. } => "model_not_in_build",
            Self::Rules(RulesError::UnknownCategory { .. }) => "unknown_category",
            Self::Rules(RulesError::UnknownPin { .. }) => "unknown_item",
            Self::Rules(RulesError::Invalid(_)) => "invalid_argument",
            Self::PartOfVersion { .. } => "part_of_version",
            Self::BadQueryPart { .. } | Self::NoParityCase { .. } => "invalid_argument",
        }
    }
}

/// An answer: ranked items and the bundle version that produced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendations {
    pub version: String,
    pub items: Vec<Recommendation>,
    /// Input ids the catalog does not know, skipped rather than fatal.
    pub skipped: Vec<String>,
    /// Which model produced the items: `similar`, `for_user`, `for_you`,
    /// `next_up`, `search`, `together`, or, for a fallback or `trending`,
    /// `trending` or `popular`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub id: String,
    pub score: f32,
    pub title: String,
}

/// A ranking as catalog rows, before [`Engine::answer`] names them: what a
/// Worker sends, since the page already holds the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub hits: Vec<Hit>,
    /// As [`Recommendations::skipped`].
    pub skipped: Vec<String>,
    /// As [`Recommendations::source`].
    pub source: &'static str,
}

impl Ranked {
    pub(crate) fn new(hits: Vec<Hit>, skipped: Vec<String>, source: &'static str) -> Self {
        Self { hits, skipped, source }
    }
}

/// Ids as `&str`, whatever their type: each ranking's body is compiled once,
/// for `&[&str]`, not once per id type.
pub(crate) fn id_strs<S: AsRef<str>>(ids: &[S]) -> Vec<&str> {
    ids.iter().map(AsRef::as_ref).collect()
}

/// A ranking that scans a split matrix: what the shards of a split
/// version answer together (docs/shards.md), each argument as the
/// whole-version method takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ranking {
    Similar { item: String, category: Option<String> },
    ForUser { user: String },
    ForHistory { history: Vec<String> },
    NextUp { history: Vec<String>, exclude_history: bool },
}

/// A shard's contribution to a ranking's query (phase one).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryPart {
    /// The history has no item the catalog knows: shard 0 answers the
    /// whole call from popularity, as one engine would.
    Fallback,
    /// This shard's part, summed over the shards into what
    /// [`Engine::scan_part`] takes; None when it holds none of it.
    Part(Option<Vec<f64>>),
}

/// A shard's answer to a ranking (phase two), merged by [`merge_parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPart {
    /// Its best rows (catalog rows), in ranking order.
    pub hits: Vec<Hit>,
    /// The rules' pins in order, scored by the shard holding the row.
    pub pins: Vec<PinPart>,
    pub skipped: Vec<String>,
    pub source: &'static str,
}

/// A pinned row, its position, and its score where known (see [`ScanPart::pins`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinPart {
    pub row: usize,
    pub position: usize,
    pub score: Option<f32>,
}

pub struct Engine {
    manifest: Manifest,
    catalog: Catalog,
    similar: Option<SimilarItems>,
    factors: Option<Factors>,
    sequence: Option<SequenceModel>,
    /// Search's index; shard 0's alone in a split version.
    text: Option<TextIndex>,
    /// items × 2: trending, all-time popularity.
    popularity: Option<ItemMatrix>,
    together: Option<Together>,
    /// Next up's item rows in a shard that does not run the encoder.
    next_up_rows: Option<ItemMatrix>,
    /// Set when this engine is one shard of a split version.
    shard: Option<Shard>,
}

/// A history resolved against the catalog.
enum Resolved {
    /// Its known rows, in order, and the ids the catalog does not know.
    Known(Vec<usize>, Vec<String>),
    /// No known item: the answer falls back to popularity (these ids skipped).
    Fallback(Vec<String>),
}

/// The factor model, and the known users of a research bundle.
struct Factors {
    model: FactorModel,
    known_users: Option<KnownUsers>,
}

/// Who a research bundle's known users are, their factors, what they saw.
struct KnownUsers {
    factors: Matrix,
    index_of: HashMap<String, usize>,
    /// Per user, the items seen in training: excluded from their answers.
    seen: Vec<RowSet>,
}

impl Engine {
    /// Verifies and loads a bundle with the default limits and no pinned
    /// keys, then runs its parity cases.
    pub fn load(files: &BundleFiles) -> Result<Self, EngineError> {
        Self::load_with(files, &LoadOptions::default())
    }

    /// Verifies (signature, limits, sizes, hashes) and loads a bundle, then
    /// runs its parity cases.
    pub fn load_with(files: &BundleFiles, options: &LoadOptions) -> Result<Self, EngineError> {
        let engine = Self::from_bundle(Bundle::from_files_with(files, options)?)?;
        engine.check_parity()?;
        Ok(engine)
    }

    /// Loads one shard of a split version from its verified files
    /// ([`crate::bundle::ShardFiles`]). It answers through [`Self::query_part`]
    /// and [`Self::scan_part`], merged by [`merge_parts`]; shard 0 also
    /// answers what needs no split matrix (trending, together, a history's
    /// fallback). Its factor model folds in once [`Self::complete_gram`] has
    /// run. Shard 0 runs the parity cases of unsplit models; the others are
    /// run through the shards ([`Self::split_parity_cases`]).
    pub fn load_shard(files: &VerifiedShard, options: &LoadOptions) -> Result<Self, EngineError> {
        let engine = Self::from_bundle(Bundle::from_shard(files, options)?)?;
        engine.check_parity()?;
        Ok(engine)
    }

    fn from_bundle(bundle: Bundle<'_>) -> Result<Self, EngineError> {
        let content_columns =
            bundle.manifest.models.similar.as_ref().map_or(0, |spec| spec.content_columns as usize);
        let similar = bundle.similar.map(|embeddings| match &bundle.popularity {
            Some(popularity) if content_columns > 0 => SimilarItems::with_content(
                embeddings,
                content_columns,
                RowSet::new(
                    popularity.scores(&POPULAR).iter().enumerate().filter(|(_, &p)| p <= 0.0).map(|(i, _)| i),
                ),
            ),
            _ => SimilarItems::new(embeddings),
        });
        let factors = match bundle.factors {
            Some(f) => Some(Factors {
                model: match bundle.shard {
                    Some(_) => FactorModel::part(f.items, f.fold_in_lambda),
                    None => FactorModel::new(f.items, f.fold_in_lambda)?,
                },
                known_users: f.known_users.map(|users| KnownUsers {
                    index_of: users.list.ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect(),
                    seen: users
                        .list
                        .seen
                        .iter()
                        .map(|s| RowSet::new(s.iter().map(|&i| i as usize)))
                        .collect(),
                    factors: users.factors,
                }),
            }),
            None => None,
        };
        let (sequence, next_up_rows) = match bundle.next_up {
            #[cfg(feature = "next-up")]
            Some(NextUpParts { encoder: Some(encoder), items, max_len }) => {
                (Some(SequenceModel::for_shard(encoder, items, bundle.catalog.len(), max_len)?), None)
            }
            Some(NextUpParts { encoder: None, items, .. }) => (None, Some(items)),
            _ => (None, None),
        };
        let text = bundle.shard.is_none_or(|shard| shard.index == 0).then(|| TextIndex::new(&bundle.catalog));
        Ok(Self {
            manifest: bundle.manifest,
            catalog: bundle.catalog,
            similar,
            factors,
            sequence,
            text,
            popularity: bundle.popularity,
            together: bundle.together,
            next_up_rows,
            shard: bundle.shard,
        })
    }

    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Names of the models this bundle carries.
    pub fn models(&self) -> Vec<&'static str> {
        let present = [
            ("similar", self.similar.is_some()),
            ("factors", self.factors.is_some()),
            ("next_up", self.sequence.is_some()),
            ("popularity", self.popularity.is_some()),
            ("together", self.together.is_some()),
        ];
        present.into_iter().filter(|(_, has)| *has).map(|(name, _)| name).collect()
    }

    /// Models the bundle has that this build does not run (`next_up` in the
    /// core build): neither loaded nor checked by parity here.
    pub fn deferred_models(&self) -> Vec<&'static str> {
        if self.next_up_deferred() {
            vec!["next_up"]
        } else {
            Vec::new()
        }
    }

    /// The bundle has a next-up model this build cannot run (the core build).
    fn next_up_deferred(&self) -> bool {
        !ENCODERS_BUILT_IN && self.manifest.models.next_up.is_some()
    }

    fn sequence_model(&self) -> Result<&SequenceModel, EngineError> {
        match &self.sequence {
            Some(model) => Ok(model),
            None if self.next_up_deferred() => Err(EngineError::NotInThisBuild { model: "next_up" }),
            // A shard other than shard 0 holds next up's rows, not its encoder.
            None if self.next_up_rows.is_some() => {
                self.whole_version().and(Err(EngineError::ModelMissing { model: "next_up" }))
            }
            None => Err(EngineError::ModelMissing { model: "next_up" }),
        }
    }

    /// Items most similar to `item_id` (cosine), optionally only from `category`.
    pub fn similar(
        &self,
        item_id: &str,
        k: usize,
        category: Option<&str>,
    ) -> Result<Recommendations, EngineError> {
        self.similar_with(item_id, k, category, &Rules::default())
    }

    /// [`Self::similar`] under merchandising `rules`.
    pub fn similar_with(
        &self,
        item_id: &str,
        k: usize,
        category: Option<&str>,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.similar_rows(item_id, k, category, rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn similar_rows(
        &self,
        item_id: &str,
        k: usize,
        category: Option<&str>,
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        self.whole_version()?;
        let model = self.similar.as_ref().ok_or(EngineError::ModelMissing { model: "similar" })?;
        let item = self.item_index(item_id)?;
        let members = self.members(category)?;
        let keep = |i: usize| i != item && members.is_none_or(|m| m.contains(i));
        let hits = self.scan(model.items(), &model.query(item), k, &keep, rules)?;
        Ok(Ranked::new(hits, Vec::new(), "similar"))
    }

    /// Best items for a user known to a research bundle's factor model, their
    /// training items excluded. Shop bundles name no users: use `for_history`.
    pub fn for_user(&self, user_id: &str, k: usize) -> Result<Recommendations, EngineError> {
        self.for_user_with(user_id, k, &Rules::default())
    }

    /// [`Self::for_user`] under merchandising `rules`.
    pub fn for_user_with(
        &self,
        user_id: &str,
        k: usize,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        check_k(k)?;
        self.whole_version()?;
        let (factors, users, user) = self.known_user(user_id)?;
        let seen = &users.seen[user];
        let factor = users.factors.row(user).to_vec();
        let hits = self.scan(factors.model.items(), &factor, k, &|i| !seen.contains(i), rules)?;
        Ok(self.answer(Ranked::new(hits, Vec::new(), "for_user")))
    }

    /// Best items for an anonymous shopper folded in from their history of
    /// item ids. Unknown ids are skipped and reported in `skipped`.
    pub fn for_history<S: AsRef<str>>(
        &self,
        history: &[S],
        k: usize,
    ) -> Result<Recommendations, EngineError> {
        self.for_history_with(history, k, &Rules::default())
    }

    /// [`Self::for_history`] under merchandising `rules`.
    pub fn for_history_with<S: AsRef<str>>(
        &self,
        history: &[S],
        k: usize,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.for_history_rows(&id_strs(history), k, rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn for_history_rows(
        &self,
        history: &[&str],
        k: usize,
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
        let (known, skipped) = match self.resolve_or_fallback(history)? {
            Resolved::Known(known, skipped) => (known, skipped),
            Resolved::Fallback(skipped) => return self.fallback(k, skipped, rules),
        };
        self.whole_version()?;
        let seen = RowSet::new(known);
        let query = factors.model.fold_in(&seen)?;
        let hits = self.scan(factors.model.items(), &query, k, &|i| !seen.contains(i), rules)?;
        Ok(Ranked::new(hits, skipped, "for_you"))
    }

    /// What comes next after a session of item ids (oldest first): the LSTM
    /// encodes the last `max_len` known items. Unknown ids are skipped and
    /// reported; `exclude_history` drops items already in the history.
    pub fn next_up<S: AsRef<str>>(
        &self,
        history: &[S],
        k: usize,
        exclude_history: bool,
    ) -> Result<Recommendations, EngineError> {
        self.next_up_with(history, k, exclude_history, &Rules::default())
    }

    /// [`Self::next_up`] under merchandising `rules`.
    pub fn next_up_with<S: AsRef<str>>(
        &self,
        history: &[S],
        k: usize,
        exclude_history: bool,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.next_up_rows(&id_strs(history), k, exclude_history, rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn next_up_rows(
        &self,
        history: &[&str],
        k: usize,
        exclude_history: bool,
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        let model = self.sequence_model()?;
        let (known, skipped) = match self.resolve_or_fallback(history)? {
            Resolved::Known(known, skipped) => (known, skipped),
            Resolved::Fallback(skipped) => return self.fallback(k, skipped, rules),
        };
        self.whole_version()?;
        let seen = RowSet::new(known.iter().copied());
        let query = model.checked_query(&known)?;
        let hits = self.scan(model.items(), &query, k, &|i| !exclude_history || !seen.contains(i), rules)?;
        Ok(Ranked::new(hits, skipped, "next_up"))
    }

    /// Catalog items matching `text` (BM25 over titles and categories),
    /// re-ranked by the shopper's taste when `history` has known items and
    /// the bundle has a factor model (see [`SEARCH_PERSONAL_WEIGHT`]). No
    /// match gives an empty answer; unknown history ids are skipped.
    pub fn search<S: AsRef<str>>(
        &self,
        text: &str,
        k: usize,
        history: &[S],
    ) -> Result<Recommendations, EngineError> {
        self.search_with(text, k, history, &Rules::default())
    }

    /// [`Self::search`] under merchandising `rules` (boosts add to the
    /// search score, whose scale is described at [`SEARCH_PERSONAL_WEIGHT`]).
    pub fn search_with<S: AsRef<str>>(
        &self,
        text: &str,
        k: usize,
        history: &[S],
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.search_rows(text, k, &id_strs(history), rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn search_rows(
        &self,
        text: &str,
        k: usize,
        history: &[&str],
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        // An empty or unknown history is fine here: the search is then unpersonalised.
        let (known, skipped) = self.resolve(history);
        let query = match &self.factors {
            Some(factors) if !known.is_empty() => {
                self.whole_version()?;
                Some((factors.model.items(), factors.model.fold_in(&RowSet::new(known))?))
            }
            _ => None,
        };
        let taste = query.as_ref().map(|(items, query)| move |row: usize| items.score(row, query));
        self.search_ranked(text, k, skipped, rules, taste.as_ref().map(|t| t as &dyn Fn(usize) -> f32))
    }

    /// The catalog rows matching `text` (shard 0 of a split version: the
    /// rows whose taste [`Self::search_taste_part`] asks for).
    pub fn search_matches(&self, text: &str) -> Result<Vec<usize>, EngineError> {
        Ok(self.text_index()?.matches(text).iter().map(|m| m.row).collect())
    }

    /// Phase two of a personalised search across shards: the taste (fold-in
    /// score) of each of `rows` (the matches) that this shard holds, for
    /// the query the shards' parts of [`Ranking::ForHistory`] sum to.
    pub fn search_taste_part(&self, rows: &[usize], query: &[f64]) -> Result<Vec<(usize, f32)>, EngineError> {
        let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
        let items = factors.model.items();
        let query = factors.model.solve(sized_query(query, "factors", items.cols())?)?;
        let held = self.held();
        let held_rows = rows.iter().filter(|row| held.contains(row));
        Ok(held_rows.map(|&row| (row, items.score(row - held.start, &query))).collect())
    }

    /// Phase three, on shard 0: the search ranked with every shard's tastes
    /// (none: unpersonalised), as one engine ranks it.
    pub fn search_with_tastes<S: AsRef<str>>(
        &self,
        text: &str,
        k: usize,
        history: &[S],
        rules: &Rules,
        tastes: &[(usize, f32)],
    ) -> Result<Recommendations, EngineError> {
        self.search_with_tastes_rows(text, k, history, rules, tastes).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn search_with_tastes_rows<S: AsRef<str>>(
        &self,
        text: &str,
        k: usize,
        history: &[S],
        rules: &Rules,
        tastes: &[(usize, f32)],
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        let (_, skipped) = self.resolve(history);
        if tastes.is_empty() {
            return self.search_ranked(text, k, skipped, rules, None);
        }
        let mut taste = vec![f32::NAN; self.catalog.len()];
        for &(row, score) in tastes {
            if row >= taste.len() || !score.is_finite() {
                return Err(EngineError::Rules(RulesError::Invalid(format!(
                    "a search taste for row {row} ({score}) is outside the catalog or not finite"
                ))));
            }
            taste[row] = score;
        }
        self.search_ranked(text, k, skipped, rules, Some(&|row| taste[row]))
    }

    /// Search: matches of `text` by relevance, reordered by `taste` (a
    /// score per catalog row; NaN where a split version's shards gave none)
    /// when given (see [`SEARCH_PERSONAL_WEIGHT`]).
    fn search_ranked(
        &self,
        text: &str,
        k: usize,
        skipped: Vec<String>,
        rules: &Rules,
        taste: Option<&dyn Fn(usize) -> f32>,
    ) -> Result<Ranked, EngineError> {
        let compiled = rules.compile(&self.catalog)?;
        let matches = self.text_index()?.matches(text);
        let best = matches.iter().map(|m| m.bm25).fold(0.0f32, f32::max);
        let mut scores = vec![f32::NEG_INFINITY; self.catalog.len()];
        // Relevance is at most 1 and the taste bonus at most the weight, so
        // one typo fewer always outweighs both, and one more matched word
        // outweighs any number of typos.
        let step = (1.0 + SEARCH_PERSONAL_WEIGHT).ceil();
        let per_term = matches.iter().map(|m| m.typos).max().unwrap_or(0) as f32 + 1.0;
        for m in &matches {
            let tier = step * (per_term * m.terms as f32 - m.typos as f32);
            scores[m.row] = tier + m.bm25 / best;
        }
        if let (Some(taste), true) = (taste, matches.len() > 1) {
            // Taste enters by rank among the matches, not by raw score: items
            // the shopper already has score far above everything else and
            // would squash a min-max scale.
            let tastes: HashMap<usize, f32> = matches.iter().map(|m| (m.row, taste(m.row))).collect();
            if let Some((row, _)) = tastes.iter().find(|(_, taste)| taste.is_nan()) {
                let reason = format!("no search taste for matching row {row}");
                return Err(EngineError::Rules(RulesError::Invalid(reason)));
            }
            let mut by_taste: Vec<usize> = matches.iter().map(|m| m.row).collect();
            by_taste.sort_by(|a, b| tastes[a].total_cmp(&tastes[b]).then(a.cmp(b)));
            let last = (by_taste.len() - 1) as f32;
            for (rank, &row) in by_taste.iter().enumerate() {
                scores[row] += SEARCH_PERSONAL_WEIGHT * rank as f32 / last;
            }
        }
        if let Some(bonus) = &compiled.bonus {
            scores.iter_mut().zip(bonus).for_each(|(score, b)| *score += b);
        }
        let matched = |row: usize| scores[row] > f32::NEG_INFINITY;
        let hits = top_k(&scores, k, |row| matched(row) && compiled.allows(row));
        Ok(Ranked::new(
            place_pins(hits, &pin_parts(&compiled, &|row| matched(row).then_some(scores[row])), k),
            skipped,
            "search",
        ))
    }

    /// "Frequently bought together" with a cart (or one product): each cart
    /// item's partners, their scores summed, cart items left out; with fewer
    /// partners than `k`, the rest is what trends (score 0) when the bundle
    /// has popularity scores. Unknown ids are skipped.
    pub fn together<S: AsRef<str>>(
        &self,
        cart: &[S],
        k: usize,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.together_rows(&id_strs(cart), k, rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn together_rows(
        &self,
        cart: &[&str],
        k: usize,
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        let together = self.together.as_ref().ok_or(EngineError::ModelMissing { model: "together" })?;
        let compiled = rules.compile(&self.catalog)?;
        let (known, skipped) = self.resolve_history(cart)?;
        let in_cart = RowSet::new(known.iter().copied());
        let mut scores = vec![f32::NEG_INFINITY; self.catalog.len()];
        for &item in &known {
            for (partner, score) in together.partners(item) {
                scores[partner] =
                    if scores[partner] == f32::NEG_INFINITY { score } else { scores[partner] + score };
            }
        }
        let paired: Vec<bool> = scores
            .iter()
            .enumerate()
            .map(|(row, &s)| s > f32::NEG_INFINITY && !in_cart.contains(row))
            .collect();
        let paired = |row: usize| paired[row];
        if let Some(bonus) = &compiled.bonus {
            scores.iter_mut().zip(bonus).for_each(|(score, b)| *score += b);
        }
        let mut hits = top_k(&scores, k, |row| paired(row) && compiled.allows(row));
        // Fewer partners than asked: the rest from what trends, with score 0,
        // so a cart of rarely bought products still gets a full shelf.
        if hits.len() < k {
            if let Some(popularity) = &self.popularity {
                let listed: Vec<usize> = hits.iter().map(|h| h.index).collect();
                // The rules are compiled already: filter and boost with them, pin once below.
                let fill = |row: usize| {
                    !paired(row) && !in_cart.contains(row) && !listed.contains(&row) && compiled.allows(row)
                };
                let more =
                    search_with(popularity, &TRENDING, k - hits.len(), &fill, compiled.bonus.as_deref());
                hits.extend(more.into_iter().map(|hit| Hit { index: hit.index, score: 0.0 }));
            }
        }
        Ok(Ranked::new(
            place_pins(
                hits,
                &pin_parts(&compiled, &|row| {
                    (!in_cart.contains(row)).then(|| if paired(row) { scores[row] } else { 0.0 })
                }),
                k,
            ),
            skipped,
            "together",
        ))
    }

    /// What is trending: items by their events decayed by age (time-decayed
    /// popularity, computed at training), optionally in one category and
    /// under `rules`.
    pub fn trending(
        &self,
        k: usize,
        category: Option<&str>,
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        self.trending_rows(k, category, rules).map(|ranked| self.answer(ranked))
    }

    pub(crate) fn trending_rows(
        &self,
        k: usize,
        category: Option<&str>,
        rules: &Rules,
    ) -> Result<Ranked, EngineError> {
        check_k(k)?;
        let scores = self.popularity.as_ref().ok_or(EngineError::ModelMissing { model: "popularity" })?;
        let members = self.members(category)?;
        let hits = self.scan(scores, &TRENDING, k, &|i| members.is_none_or(|m| m.contains(i)), rules)?;
        Ok(Ranked::new(hits, Vec::new(), "trending"))
    }

    /// For a history with no known item: what is trending under the call's
    /// rules (a page's category filter gives trending in that category), or,
    /// where nothing trends there, what was ever popular.
    fn fallback(&self, k: usize, skipped: Vec<String>, rules: &Rules) -> Result<Ranked, EngineError> {
        let scores = self.popularity.as_ref().ok_or(EngineError::ModelMissing { model: "popularity" })?;
        let trending = self.scan(scores, &TRENDING, k, &|_| true, rules)?;
        if trending.iter().any(|hit| hit.score > 0.0) {
            return Ok(Ranked::new(trending, skipped, "trending"));
        }
        let popular = self.scan(scores, &POPULAR, k, &|_| true, rules)?;
        Ok(Ranked::new(popular, skipped, "popular"))
    }

    /// The best `k` rows of a whole matrix by `query`, then the rules' pins
    /// placed: [`Self::scan_rows`] of one part, merged.
    fn scan(
        &self,
        items: &ItemMatrix,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(usize) -> bool,
        rules: &Rules,
    ) -> Result<Vec<Hit>, EngineError> {
        let (hits, pins) = self.scan_rows(items, 0, query, k, keep, rules)?;
        Ok(place_pins(hits, &pins, k))
    }

    /// The one scan every model's answer comes from: the best `k` of the
    /// rows `items` holds (catalog rows from `first_row` on) by `query` that
    /// `keep` and the rules' filters accept, with the rules' boosts added;
    /// and the rules' pins, scored where `items` holds the row.
    fn scan_rows(
        &self,
        items: &ItemMatrix,
        first_row: usize,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(usize) -> bool,
        rules: &Rules,
    ) -> Result<(Vec<Hit>, Vec<PinPart>), EngineError> {
        let held = first_row..first_row + items.rows();
        let to_catalog = |hits: Vec<Hit>| -> Vec<Hit> {
            hits.into_iter().map(|hit| Hit { index: hit.index + first_row, score: hit.score }).collect()
        };
        if rules.is_empty() {
            let hits = search_with(items, query, k, &|i| keep(i + first_row), None);
            return Ok((to_catalog(hits), Vec::new()));
        }
        let compiled = rules.compile(&self.catalog)?;
        let pinned_rows: Vec<usize> = compiled.pins.iter().map(|&(row, _)| row).collect();
        let accept = |i: usize| {
            let row = i + first_row;
            keep(row) && compiled.allows(row) && !pinned_rows.contains(&row)
        };
        let bonus = |row: usize| compiled.bonus.as_ref().map_or(0.0, |b| b[row]);
        let hits = search_with(items, query, k, &accept, compiled.bonus.as_ref().map(|b| &b[held.clone()]));
        let pins = pin_parts(&compiled, &|row| {
            (held.contains(&row) && keep(row)).then(|| dot(&items.row(row - first_row), query) + bonus(row))
        });
        Ok((to_catalog(hits), pins))
    }

    /// The "similar items" score of every catalog item for the history's last
    /// item (catalog rows): what `similar` ranks for it. Used by evaluation.
    pub fn similar_scores(&self, history: &[usize]) -> Result<Vec<f32>, EngineError> {
        self.whole_version()?;
        let model = self.similar.as_ref().ok_or(EngineError::ModelMissing { model: "similar" })?;
        let &last = history.last().ok_or(EngineError::EmptyHistory { skipped: Vec::new() })?;
        Ok(model.items().scores(&model.query(last)))
    }

    /// The next-up score of every catalog item after a history of catalog
    /// rows: what `next_up` ranks, before exclusions. Used by evaluation.
    pub fn next_up_scores(&self, history: &[usize]) -> Result<Vec<f32>, EngineError> {
        self.whole_version()?;
        Ok(self.sequence_model()?.scores(history)?)
    }

    /// The "bought together" order of every catalog item with a cart of
    /// catalog rows, as scores: partners first by their summed score, then
    /// the rest by trending when the bundle has it (what `together` ranks).
    /// Used by evaluation.
    pub fn together_scores(&self, cart: &[usize]) -> Result<Vec<f32>, EngineError> {
        let together = self.together.as_ref().ok_or(EngineError::ModelMissing { model: "together" })?;
        let trending = self.popularity.as_ref().map(|p| p.scores(&TRENDING));
        // Trending scaled into [0, 1), below every partner's (partners get 1 + score).
        let top = trending.as_ref().map_or(0.0, |t| t.iter().fold(0f32, |m, &v| m.max(v)));
        let mut scores: Vec<f32> = match &trending {
            Some(t) if top > 0.0 => t.iter().map(|&v| 0.999 * v / top).collect(),
            _ => vec![0.0; self.catalog.len()],
        };
        let mut paired = vec![false; self.catalog.len()];
        for &item in cart {
            for (partner, score) in together.partners(item) {
                scores[partner] = if paired[partner] { scores[partner] + score } else { 1.0 + score };
                paired[partner] = true;
            }
        }
        Ok(scores)
    }

    /// The "for you" score of every catalog item for a shopper folded in
    /// from a history of catalog rows: what `for_history` ranks, before
    /// exclusions. Used by evaluation.
    pub fn for_history_scores(&self, history: &[usize]) -> Result<Vec<f32>, EngineError> {
        let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
        self.whole_version()?;
        Ok(factors.model.scores_for_history(&RowSet::new(history.iter().copied()))?)
    }

    /// Phase one of a ranking over the shards of a split version (one engine
    /// holding every row answers it too): this shard's part of the query.
    /// Similar items: the item's query, from the shard holding its row. For
    /// you: the shard's history rows summed. Next up and known users: shard
    /// 0's query.
    pub fn query_part(&self, ranking: &Ranking) -> Result<QueryPart, EngineError> {
        let held = self.held();
        let lead = self.shard.is_none_or(|shard| shard.index == 0);
        let whole = |query: Vec<f32>| QueryPart::Part(Some(query.into_iter().map(f64::from).collect()));
        match ranking {
            Ranking::Similar { item, .. } => {
                let model = self.similar.as_ref().ok_or(EngineError::ModelMissing { model: "similar" })?;
                let item = self.item_index(item)?;
                Ok(match held.contains(&item) {
                    true => whole(model.query_row(item, item - held.start)),
                    false => QueryPart::Part(None),
                })
            }
            Ranking::ForUser { user } => {
                let (_, users, user) = self.known_user(user)?;
                Ok(if lead { whole(users.factors.row(user).to_vec()) } else { QueryPart::Part(None) })
            }
            Ranking::ForHistory { history } => {
                let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
                let Resolved::Known(known, _) = self.resolve_or_fallback(history)? else {
                    return Ok(QueryPart::Fallback);
                };
                let seen = RowSet::new(known);
                let holds_some = seen.rows().iter().any(|row| held.contains(row));
                Ok(QueryPart::Part(holds_some.then(|| factors.model.history_sum(&seen, held))))
            }
            Ranking::NextUp { history, .. } => {
                if self.manifest.models.next_up.is_none() {
                    return Err(EngineError::ModelMissing { model: "next_up" });
                }
                let Resolved::Known(known, _) = self.resolve_or_fallback(history)? else {
                    return Ok(QueryPart::Fallback);
                };
                Ok(if lead {
                    whole(self.sequence_model()?.checked_query(&known)?)
                } else {
                    QueryPart::Part(None)
                })
            }
        }
    }

    /// Phase two: this shard's best `k` rows for the query the shards' parts
    /// sum to, under `rules` (every part merged by [`merge_parts`]).
    pub fn scan_part(
        &self,
        ranking: &Ranking,
        k: usize,
        rules: &Rules,
        query: &[f64],
    ) -> Result<ScanPart, EngineError> {
        check_k(k)?;
        let sized = |model: &'static str, expected: usize| sized_query(query, model, expected);
        let to_f32 = |query: Vec<f64>| query.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
        type Keep<'k> = Box<dyn Fn(usize) -> bool + 'k>;
        let (items, query, keep, skipped, source): (
            &ItemMatrix,
            Vec<f32>,
            Keep<'_>,
            Vec<String>,
            &'static str,
        ) = match ranking {
            Ranking::Similar { item, category } => {
                let model = self.similar.as_ref().ok_or(EngineError::ModelMissing { model: "similar" })?;
                let item = self.item_index(item)?;
                let members = self.members(category.as_deref())?;
                let query = to_f32(sized("similar", model.items().cols())?);
                let keep = move |i: usize| i != item && members.as_ref().is_none_or(|m| m.contains(i));
                (model.items(), query, Box::new(keep), Vec::new(), "similar")
            }
            Ranking::ForUser { user } => {
                let (factors, users, user) = self.known_user(user)?;
                let seen = &users.seen[user];
                let query = to_f32(sized("factors", factors.model.items().cols())?);
                (factors.model.items(), query, Box::new(|i| !seen.contains(i)), Vec::new(), "for_user")
            }
            Ranking::ForHistory { history } => {
                let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
                let (known, skipped) = self.resolve_history(history)?;
                let seen = RowSet::new(known);
                let query = factors.model.solve(sized("factors", factors.model.items().cols())?)?;
                (factors.model.items(), query, Box::new(move |i| !seen.contains(i)), skipped, "for_you")
            }
            Ranking::NextUp { history, exclude_history } => {
                let items = self.next_up_items()?;
                let (known, skipped) = self.resolve_history(history)?;
                let seen = RowSet::new(known);
                let query = to_f32(sized("next_up", items.cols())?);
                let exclude = *exclude_history;
                (items, query, Box::new(move |i| !exclude || !seen.contains(i)), skipped, "next_up")
            }
        };
        let (hits, pins) = self.scan_rows(items, self.held().start, &query, k, &*keep, rules)?;
        Ok(ScanPart { hits, pins, skipped, source })
    }

    /// VᵀV over this shard's rows of the item factors: summed over the
    /// shards, what [`Self::complete_gram`] takes. None without factors.
    pub fn gram_part(&self) -> Option<Vec<f64>> {
        self.factors.as_ref().map(|factors| factors.model.gram())
    }

    /// Gives a shard's factor model VᵀV over the whole catalog, so it can fold in.
    pub fn complete_gram(&mut self, whole: &[f64]) -> Result<(), EngineError> {
        let factors = self.factors.as_mut().ok_or(EngineError::ModelMissing { model: "factors" })?;
        Ok(factors.model.complete(whole)?)
    }

    /// The parity cases a split version runs through its shards (those of
    /// the split models), by case number, with the `k` to ask for: check
    /// each merged answer with [`Self::check_parity_answer`].
    pub fn split_parity_cases(&self) -> (usize, Vec<(usize, Ranking)>) {
        let cases = self.manifest.parity.cases.iter().enumerate();
        let split = cases.filter_map(|(case, spec)| Some((case, split_ranking(spec)?.0)));
        (self.manifest.parity.k, split.collect())
    }

    /// Checks a merged answer to parity case `case` against the training side's.
    pub fn check_parity_answer(&self, case: usize, answer: &[Recommendation]) -> Result<(), EngineError> {
        let cases = &self.manifest.parity.cases;
        let spec = cases.get(case).ok_or(EngineError::NoParityCase { case, cases: cases.len() })?;
        let Some((_, expected)) = split_ranking(spec) else {
            return Err(EngineError::NoParityCase { case, cases: cases.len() });
        };
        compare_ranking(answer, expected, self.manifest.parity.tolerance)
            .map_err(|reason| EngineError::Parity { case, input: parity_input(spec), reason })
    }

    /// The catalog rows this engine's split matrices hold: all of them
    /// unless it is a shard.
    fn held(&self) -> Range<usize> {
        match self.shard {
            Some(shard) => shard.rows(self.catalog.len()),
            None => 0..self.catalog.len(),
        }
    }

    fn next_up_items(&self) -> Result<&ItemMatrix, EngineError> {
        match &self.next_up_rows {
            Some(rows) => Ok(rows),
            None => Ok(self.sequence_model()?.items()),
        }
    }

    fn members(&self, category: Option<&str>) -> Result<Option<crate::catalog::Members<'_>>, EngineError> {
        category
            .map(|name| {
                self.catalog
                    .members_of(name)
                    .ok_or_else(|| EngineError::UnknownCategory { name: name.to_owned() })
            })
            .transpose()
    }

    fn known_user(&self, user_id: &str) -> Result<(&Factors, &KnownUsers, usize), EngineError> {
        let factors = self.factors.as_ref().ok_or(EngineError::ModelMissing { model: "factors" })?;
        let users = factors.known_users.as_ref().ok_or(EngineError::ModelMissing { model: "known_users" })?;
        let user = *users
            .index_of
            .get(user_id)
            .ok_or_else(|| EngineError::UnknownUser { id: user_id.to_owned() })?;
        Ok((factors, users, user))
    }

    /// A history's known rows and skipped ids, or, where it has no known
    /// item and the bundle has popularity, the fallback to it.
    fn resolve_or_fallback<S: AsRef<str>>(&self, history: &[S]) -> Result<Resolved, EngineError> {
        match self.resolve_history(history) {
            Ok((known, skipped)) => Ok(Resolved::Known(known, skipped)),
            Err(EngineError::EmptyHistory { skipped }) if self.popularity.is_some() => {
                Ok(Resolved::Fallback(skipped))
            }
            Err(error) => Err(error),
        }
    }

    fn text_index(&self) -> Result<&TextIndex, EngineError> {
        match &self.text {
            Some(text) => Ok(text),
            // Only a shard other than shard 0 has none.
            None => self.whole_version().and(Err(EngineError::ModelMissing { model: "search" })),
        }
    }

    /// Answers that scan a split matrix need every shard: an error in a shard.
    fn whole_version(&self) -> Result<(), EngineError> {
        match self.shard {
            Some(Shard { index, count }) => Err(EngineError::PartOfVersion { index, count }),
            None => Ok(()),
        }
    }

    fn item_index(&self, id: &str) -> Result<usize, EngineError> {
        self.catalog.index_of(id).ok_or_else(|| EngineError::UnknownItem { id: id.to_owned() })
    }

    /// Like [`Self::resolve`], but a history with no known item is an error:
    /// there is nothing to recommend from.
    fn resolve_history<S: AsRef<str>>(&self, ids: &[S]) -> Result<(Vec<usize>, Vec<String>), EngineError> {
        let (known, skipped) = self.resolve(ids);
        if known.is_empty() {
            return Err(EngineError::EmptyHistory { skipped });
        }
        Ok((known, skipped))
    }

    /// Splits ids into known item rows (in order) and unknown ids.
    fn resolve<S: AsRef<str>>(&self, ids: &[S]) -> (Vec<usize>, Vec<String>) {
        let mut known = Vec::with_capacity(ids.len());
        let mut skipped = Vec::new();
        for id in ids {
            match self.catalog.index_of(id.as_ref()) {
                Some(index) => known.push(index),
                None => skipped.push(id.as_ref().to_owned()),
            }
        }
        (known, skipped)
    }

    /// The answer ranked rows give: their ids, titles and scores, and the version.
    pub fn answer(&self, Ranked { hits, skipped, source }: Ranked) -> Recommendations {
        let items = hits
            .into_iter()
            .map(|hit| {
                let item = self.catalog.item(hit.index);
                Recommendation { id: item.id.clone(), score: hit.score, title: item.title.clone() }
            })
            .collect();
        Recommendations { version: self.manifest.version.clone(), items, skipped, source: source.to_owned() }
    }

    fn check_parity(&self) -> Result<(), EngineError> {
        let parity = &self.manifest.parity;
        for (case, spec) in parity.cases.iter().enumerate() {
            let split = split_ranking(spec).is_some();
            // A shard runs none of the split models' cases (they run through
            // every shard once all have loaded); shard 0 runs the others.
            if self.shard.is_some_and(|shard| split || shard.index != 0) {
                continue;
            }
            let result = match spec {
                ParityCase::Similar { item, category, expected } => {
                    self.similar(item, parity.k, category.as_deref()).map(|r| (r, expected))
                }
                ParityCase::ForUser { user, expected } => {
                    self.for_user(user, parity.k).map(|r| (r, expected))
                }
                ParityCase::ForHistory { history, expected } => {
                    self.for_history(history, parity.k).map(|r| (r, expected))
                }
                // The core build leaves these to the full build, which runs them.
                ParityCase::NextUp { .. } if self.next_up_deferred() => continue,
                ParityCase::NextUp { history, expected } => {
                    self.next_up(history, parity.k, true).map(|r| (r, expected))
                }
                ParityCase::Together { items, expected } => {
                    self.together(items, parity.k, &Rules::default()).map(|r| (r, expected))
                }
                ParityCase::Trending { category, expected } => {
                    self.trending(parity.k, category.as_deref(), &Rules::default()).map(|r| (r, expected))
                }
                // A kind from a newer minor format: this engine cannot check it.
                ParityCase::Unknown => continue,
            };
            let fail = |reason: String| EngineError::Parity { case, input: parity_input(spec), reason };
            let (got, expected) = result.map_err(|e| fail(e.to_string()))?;
            compare_ranking(&got.items, expected, parity.tolerance).map_err(fail)?;
        }
        Ok(())
    }
}

/// The ranking a parity case of a split model asks, and its expected answer.
fn split_ranking(spec: &ParityCase) -> Option<(Ranking, &[Expected])> {
    Some(match spec {
        ParityCase::Similar { item, category, expected } => {
            (Ranking::Similar { item: item.clone(), category: category.clone() }, expected)
        }
        ParityCase::ForUser { user, expected } => (Ranking::ForUser { user: user.clone() }, expected),
        ParityCase::ForHistory { history, expected } => {
            (Ranking::ForHistory { history: history.clone() }, expected)
        }
        ParityCase::NextUp { history, expected } => {
            (Ranking::NextUp { history: history.clone(), exclude_history: true }, expected)
        }
        _ => return None,
    })
}

/// A query part summed over the shards, if it has the model's dimension.
fn sized_query(query: &[f64], model: &'static str, expected: usize) -> Result<Vec<f64>, EngineError> {
    match query.len() {
        found if found != expected => Err(EngineError::BadQueryPart { model, expected, found }),
        _ => Ok(query.to_vec()),
    }
}

/// A parity case's input, for its error message.
fn parity_input(spec: &ParityCase) -> String {
    match spec {
        ParityCase::Similar { item, category, .. } => format!("similar {item:?} category {category:?}"),
        ParityCase::ForUser { user, .. } => format!("for_user {user:?}"),
        ParityCase::ForHistory { history, .. } => format!("for_history {history:?}"),
        ParityCase::NextUp { history, .. } => format!("next_up {history:?}"),
        ParityCase::Together { items, .. } => format!("together {items:?}"),
        ParityCase::Trending { category, .. } => format!("trending category {category:?}"),
        ParityCase::Unknown => "a case of a newer format".into(),
    }
}

/// The rules' pins in order, each with `score(row)`: None where the call
/// excludes the row, or where this part of a split version does not hold it.
fn pin_parts(compiled: &Compiled, score: &dyn Fn(usize) -> Option<f32>) -> Vec<PinPart> {
    compiled.pins.iter().map(|&(row, position)| PinPart { row, position, score: score(row) }).collect()
}

/// `hits` with the pinned rows placed at their positions (those with a
/// score; the others are left out), at most `k` in all.
fn place_pins(mut hits: Vec<Hit>, pins: &[PinPart], k: usize) -> Vec<Hit> {
    if pins.is_empty() {
        return hits;
    }
    hits.retain(|hit| !pins.iter().any(|pin| pin.row == hit.index));
    for pin in pins {
        if let Some(score) = pin.score {
            hits.insert(pin.position.min(hits.len()), Hit { index: pin.row, score });
        }
    }
    hits.truncate(k);
    hits
}

/// The shards' parts of one ranking merged: the best `k` of all their hits
/// in ranking order, then the pins, each scored by the shard holding it.
/// The same rows and scores one engine holding every row ranks.
pub fn merge_parts(parts: &[ScanPart], k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = parts.iter().flat_map(|part| part.hits.iter().copied()).collect();
    hits.sort_by(Hit::rank_cmp);
    hits.truncate(k);
    let pins: Vec<PinPart> = match parts.first() {
        None => Vec::new(),
        Some(first) => (0..first.pins.len())
            .map(|i| PinPart {
                score: parts.iter().find_map(|part| part.pins.get(i)?.score),
                ..first.pins[i]
            })
            .collect(),
    };
    place_pins(hits, &pins, k)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn check_k(k: usize) -> Result<(), EngineError> {
    if k == 0 {
        return Err(EngineError::InvalidK { k });
    }
    Ok(())
}

/// Same ranking within `tolerance`: scores agree position by position, and
/// ids differ only where the training side's scores were tied within the
/// tolerance (float summation order may break such ties either way).
pub fn compare_ranking(got: &[Recommendation], expected: &[Expected], tolerance: f32) -> Result<(), String> {
    if got.len() != expected.len() {
        return Err(format!("{} results, expected {}", got.len(), expected.len()));
    }
    let close = |a: f32, b: f32| (a - b).abs() <= tolerance;
    for (position, (g, e)) in got.iter().zip(expected).enumerate() {
        if !close(g.score, e.score) {
            return Err(format!(
                "position {position}: score {} for {:?}, expected {} for {:?} (tolerance {tolerance})",
                g.score, g.id, e.score, e.id
            ));
        }
        if g.id == e.id {
            continue;
        }
        let tied = match got.iter().find(|r| r.id == e.id) {
            Some(r) => close(r.score, e.score),
            None => got.last().is_some_and(|last| close(last.score, e.score)),
        };
        if !tied {
            return Err(format!("position {position}: got {:?}, expected {:?}", g.id, e.id));
        }
    }
    Ok(())
}
