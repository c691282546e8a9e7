//! `manifest.json`: what a bundle contains and how to check it.
//! The format is documented in docs/bundle-format.md.

use serde::Deserialize;

pub const FORMAT: &str = "edgerec-bundle/1";
pub const MANIFEST_PATH: &str = "manifest.json";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub version: String,
    pub created: String,
    pub item_count: usize,
    pub files: Vec<FileEntry>,
    pub models: Models,
    pub parity: Parity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    pub similar: Option<SimilarSpec>,
    pub factors: Option<FactorsSpec>,
    pub next_up: Option<NextUpSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarSpec {
    pub embeddings: MatrixSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorsSpec {
    pub items: MatrixSpec,
    pub users: MatrixSpec,
    pub users_file: String,
    pub fold_in_lambda: f64,
}

/// The LSTM encoder (ONNX) and the output item matrix it is scored against.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextUpSpec {
    pub encoder: String,
    pub items: MatrixSpec,
    pub max_len: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    pub file: String,
    pub rows: usize,
    pub cols: usize,
    pub dtype: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parity {
    pub k: usize,
    pub tolerance: f32,
    pub cases: Vec<ParityCase>,
}

/// A real input and the ranking the training side produced for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParityCase {
    Similar { item: String, category: Option<String>, expected: Vec<Expected> },
    ForUser { user: String, expected: Vec<Expected> },
    ForHistory { history: Vec<String>, expected: Vec<Expected> },
    NextUp { history: Vec<String>, expected: Vec<Expected> },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub id: String,
    pub score: f32,
}
