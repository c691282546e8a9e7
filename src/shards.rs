//! A version split across shards, driven in one thread: the reference for
//! what the page does with one Worker per shard (www/lib/shards.js), and
//! what native tools and tests use. docs/shards.md has the protocol.

use crate::bundle::{shard_of, BundleFiles, LoadOptions, Shard};
use crate::engine::{merge_parts, Engine, EngineError, QueryPart, Ranked, Ranking, Recommendations};
use crate::rules::Rules;

/// Pieces the files are streamed in, as a Worker reads them.
const PIECE_BYTES: usize = 1 << 20;

pub struct Shards {
    engines: Vec<Engine>,
}

impl Shards {
    /// Loads `count` shards of a version, gives their factor models the
    /// whole catalog's VᵀV, and runs the split models' parity cases through
    /// them.
    pub fn load(files: &BundleFiles, options: &LoadOptions, count: usize) -> Result<Self, EngineError> {
        let mut engines = (0..count)
            .map(|index| {
                let shard = Shard::new(index, count).map_err(|reason| {
                    EngineError::Bundle(crate::BundleError::MalformedManifest { reason })
                })?;
                Engine::load_shard(&shard_of(files, options, shard, PIECE_BYTES)?, options)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parts: Vec<Vec<f64>> = engines.iter().filter_map(Engine::gram_part).collect();
        if let Some(first) = parts.first() {
            let whole = sum(parts.iter().map(Vec::as_slice), first.len());
            for engine in &mut engines {
                engine.complete_gram(&whole)?;
            }
        }
        let shards = Self { engines };
        let (k, cases) = shards.engines[0].split_parity_cases();
        for (case, ranking) in cases {
            let answer = shards.rank(&ranking, k, &Rules::default())?;
            shards.lead().check_parity_answer(case, &answer.items)?;
        }
        Ok(shards)
    }

    /// Shard 0, which answers what needs no split matrix.
    pub fn lead(&self) -> &Engine {
        &self.engines[0]
    }

    /// One ranking across the shards: what one engine holding every row answers.
    pub fn rank(&self, ranking: &Ranking, k: usize, rules: &Rules) -> Result<Recommendations, EngineError> {
        let Some(query) = self.query(ranking)? else { return self.fallback(ranking, k, rules) };
        let parts = self
            .engines
            .iter()
            .map(|engine| engine.scan_part(ranking, k, rules, &query))
            .collect::<Result<Vec<_>, _>>()?;
        let (skipped, source) = (parts[0].skipped.clone(), parts[0].source);
        Ok(self.lead().answer(Ranked::new(merge_parts(&parts, k), skipped, source)))
    }

    /// A search, personalised by the history as one engine does it: the
    /// shards' tastes for the matches, ranked by shard 0.
    pub fn search(
        &self,
        text: &str,
        k: usize,
        history: &[String],
        rules: &Rules,
    ) -> Result<Recommendations, EngineError> {
        let for_history = Ranking::ForHistory { history: history.to_vec() };
        // No factors, or no known item: the search is unpersonalised.
        let query = match self.query(&for_history) {
            _ if !self.lead().models().contains(&"factors") => None,
            Err(EngineError::EmptyHistory { .. }) => None,
            query => query?,
        };
        let mut tastes = Vec::new();
        if let Some(query) = query.filter(|query| !query.is_empty()) {
            let matches = self.lead().search_matches(text)?;
            for engine in &self.engines {
                tastes.extend(engine.search_taste_part(&matches, &query)?);
            }
        }
        self.lead().search_with_tastes(text, k, history, rules, &tastes)
    }

    /// Phase one: the shards' parts summed, or None for a fallback answer.
    fn query(&self, ranking: &Ranking) -> Result<Option<Vec<f64>>, EngineError> {
        let mut parts = Vec::new();
        for engine in &self.engines {
            match engine.query_part(ranking)? {
                QueryPart::Fallback => return Ok(None),
                QueryPart::Part(part) => parts.extend(part),
            }
        }
        let len = parts.first().map_or(0, Vec::len);
        Ok(Some(sum(parts.iter().map(Vec::as_slice), len)))
    }

    /// A history with no known item: shard 0 answers from popularity.
    fn fallback(&self, ranking: &Ranking, k: usize, rules: &Rules) -> Result<Recommendations, EngineError> {
        match ranking {
            Ranking::ForHistory { history } => self.lead().for_history_with(history, k, rules),
            Ranking::NextUp { history, exclude_history } => {
                self.lead().next_up_with(history, k, *exclude_history, rules)
            }
            // Only a history falls back.
            _ => Err(EngineError::EmptyHistory { skipped: Vec::new() }),
        }
    }
}

/// Element-wise sum, in shard order.
fn sum<'a>(parts: impl Iterator<Item = &'a [f64]>, len: usize) -> Vec<f64> {
    let mut total = vec![0.0; len];
    for part in parts {
        total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
    }
    total
}
