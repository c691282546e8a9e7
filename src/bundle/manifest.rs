//! `manifest.json`: what a bundle contains and how to check it.
//! The format is documented in docs/bundle-format.md.
//!
//! Forward compatibility: fields this engine does not know are ignored, and
//! so are parity cases of kinds it does not know, so a newer minor format
//! (`edgerec-bundle/1.N`) still loads; only another major version is refused.
//! Sizes are `u64` so that a huge value reaches the limit checks intact
//! instead of failing to parse (or wrapping) on a 32-bit target.

use serde::Deserialize;
use serde_json::Value;

/// The format this engine writes, and the major version it reads.
pub const FORMAT: &str = "edgerec-bundle/1";
pub const FORMAT_MAJOR: u32 = 1;
pub const MANIFEST_PATH: &str = "manifest.json";
/// The detached Ed25519 signature of `manifest.json`, next to it.
pub const SIGNATURE_PATH: &str = "manifest.sig";

/// The major version of a format string `edgerec-bundle/<major>[.<minor>]`.
pub fn format_major(format: &str) -> Option<u32> {
    let version = format.strip_prefix("edgerec-bundle/")?;
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (version, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !minor.is_none_or(digits) {
        return None;
    }
    major.parse().ok()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub version: String,
    pub created: String,
    pub item_count: u64,
    pub files: Vec<FileEntry>,
    pub models: Models,
    pub parity: Parity,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Models {
    pub similar: Option<SimilarSpec>,
    pub factors: Option<FactorsSpec>,
    pub next_up: Option<NextUpSpec>,
    pub popularity: Option<PopularitySpec>,
    pub together: Option<TogetherSpec>,
}

/// "Frequently bought together": per item, its best partners by an
/// association measure over transactions (baskets, or session windows),
/// stored as CSR: `items + 1` u32 offsets, `pairs` u32 partner rows, `pairs`
/// f32 scores, little-endian, each item's partners best first.
#[derive(Debug, Clone, Deserialize)]
pub struct TogetherSpec {
    pub file: String,
    pub pairs: u64,
}

/// Trending and all-time popularity per item: `scores` is items × 2 (column
/// 0 trending, the weighted events decayed by age; column 1 popularity).
/// Aggregates over every shopper, no one's events.
#[derive(Debug, Clone, Deserialize)]
pub struct PopularitySpec {
    pub scores: MatrixSpec,
    #[serde(default)]
    pub half_life_days: Option<f64>,
}

/// Cosine over `embeddings`. When the last `content_columns` of each row are
/// the item's content vector (title, categories, attributes), an item no one
/// has bought (all-time popularity 0) queries with those columns alone: the
/// rest of its row is a guess made from its content (docs/training.md).
#[derive(Debug, Clone, Deserialize)]
pub struct SimilarSpec {
    pub embeddings: MatrixSpec,
    #[serde(default)]
    pub content_columns: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FactorsSpec {
    pub items: MatrixSpec,
    /// Known users' factors and `users_file` (their ids and training items):
    /// both or neither. Published shop bundles have neither — shoppers are
    /// folded in from the history their own browser holds — so a bundle
    /// carries no shopper's data; public research data may include them.
    pub users: Option<MatrixSpec>,
    pub users_file: Option<String>,
    pub fold_in_lambda: f64,
}

/// The LSTM encoder (ONNX) and the output item matrix it is scored against.
#[derive(Debug, Clone, Deserialize)]
pub struct NextUpSpec {
    pub encoder: String,
    pub items: MatrixSpec,
    pub max_len: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MatrixSpec {
    pub file: String,
    pub rows: u64,
    pub cols: u64,
    pub dtype: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Parity {
    pub k: usize,
    pub tolerance: f32,
    pub cases: Vec<ParityCase>,
}

/// A real input and the ranking the training side produced for it.
#[derive(Debug, Clone)]
pub enum ParityCase {
    Similar {
        item: String,
        category: Option<String>,
        expected: Vec<Expected>,
    },
    ForUser {
        user: String,
        expected: Vec<Expected>,
    },
    ForHistory {
        history: Vec<String>,
        expected: Vec<Expected>,
    },
    NextUp {
        history: Vec<String>,
        expected: Vec<Expected>,
    },
    Trending {
        category: Option<String>,
        expected: Vec<Expected>,
    },
    Together {
        items: Vec<String>,
        expected: Vec<Expected>,
    },
    /// A kind from a newer minor format: skipped.
    Unknown,
}

// By hand from a JSON value: serde's internally tagged enums buffer every
// case and cost the wasm build about 30 KB.
impl<'de> Deserialize<'de> for ParityCase {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ParityCase::from_value(&Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl ParityCase {
    fn from_value(value: &Value) -> Result<Self, String> {
        let case = value.as_object().ok_or("a parity case must be an object")?;
        let kind = case.get("kind").and_then(Value::as_str).ok_or("a parity case needs a kind")?;
        let bad = |name: &str, what: &str| format!("{kind} parity case: {name} must be {what}");
        let text = |name: &str| {
            case.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| bad(name, "a string"))
        };
        let optional = |name: &str| match case.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(bad(name, "a string or null")),
        };
        let ids = |name: &str| -> Result<Vec<String>, String> {
            let list = case.get(name).and_then(Value::as_array).ok_or_else(|| bad(name, "a list of ids"))?;
            list.iter()
                .map(|id| id.as_str().map(str::to_owned).ok_or_else(|| bad(name, "a list of ids")))
                .collect()
        };
        let expected = || -> Result<Vec<Expected>, String> {
            let list =
                case.get("expected").and_then(Value::as_array).ok_or_else(|| bad("expected", "a list"))?;
            list.iter()
                .map(|entry| {
                    let id = entry.get("id").and_then(Value::as_str);
                    let score = entry.get("score").and_then(Value::as_f64);
                    match (id, score) {
                        (Some(id), Some(score)) => Ok(Expected { id: id.to_owned(), score: score as f32 }),
                        _ => Err(bad("expected", "a list of { id, score }")),
                    }
                })
                .collect()
        };
        Ok(match kind {
            "similar" => {
                Self::Similar { item: text("item")?, category: optional("category")?, expected: expected()? }
            }
            "for_user" => Self::ForUser { user: text("user")?, expected: expected()? },
            "for_history" => Self::ForHistory { history: ids("history")?, expected: expected()? },
            "next_up" => Self::NextUp { history: ids("history")?, expected: expected()? },
            "trending" => Self::Trending { category: optional("category")?, expected: expected()? },
            "together" => Self::Together { items: ids("items")?, expected: expected()? },
            _ => Self::Unknown,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Expected {
    pub id: String,
    pub score: f32,
}
