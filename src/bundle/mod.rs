//! The versioned model bundle: a manifest plus immutable files.
//!
//! [`Bundle::from_files`] takes the files as bytes keyed by path (never a
//! filesystem path), so native code, wasm and tests share one loader. It
//! verifies everything before anything is used, in this order: the
//! manifest's size, its signature (when keys are pinned), its sizes against
//! the [`Limits`] (before any other file is read or anything allocated for
//! it), then every listed file's presence, size and SHA-256, matrix
//! dimensions against the item count, finite numbers.

mod limits;
mod manifest;
mod shard;
mod signature;

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::catalog::{Catalog, CatalogError, Item};
use crate::kernel::{ItemMatrix, Matrix, MatrixError, QuantizedMatrix};
use crate::models::ENCODERS_BUILT_IN;
pub use limits::{Limit, LimitExceeded, Limits};
pub use manifest::{
    format_major, Expected, FactorsSpec, FileEntry, Manifest, MatrixSpec, Models, NextUpSpec, Parity,
    ParityCase, PopularitySpec, SimilarSpec, TogetherSpec, FORMAT, FORMAT_MAJOR, MANIFEST_PATH,
    SIGNATURE_PATH,
};
pub use shard::{shard_of, Shard, ShardFiles, VerifiedShard};
pub use signature::{verify_manifest, PublicKey};

/// Bundle files keyed by their path inside the bundle (`manifest.json`,
/// `catalog.json`, ...).
pub type BundleFiles = BTreeMap<String, Vec<u8>>;

pub const CATALOG_PATH: &str = "catalog.json";

/// What a load trusts and how much it accepts.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub limits: Limits,
    /// With at least one key, `manifest.sig` must verify with one of them.
    pub public_keys: Vec<PublicKey>,
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("bundle has no {MANIFEST_PATH}")]
    MissingManifest,
    #[error("{MANIFEST_PATH} is malformed: {reason}")]
    MalformedManifest { reason: String },
    #[error(
        "{MANIFEST_PATH} has format {found:?}; this engine reads major version {FORMAT_MAJOR} ({FORMAT:?})"
    )]
    UnsupportedFormat { found: String },
    #[error("{MANIFEST_PATH} is not signed by a pinned key: {reason}")]
    BadSignature { reason: String },
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    #[error("the {model} model has no parity case: a bundle must prove every model it ships")]
    ParityMissing { model: &'static str },
    #[error("file {path:?} is listed in the manifest but missing from the bundle")]
    MissingFile { path: String },
    #[error("file {path:?} is not listed in the manifest's files")]
    UnlistedFile { path: String },
    #[error("file {path:?} is {actual} bytes, the manifest says {expected} (truncated or padded)")]
    SizeMismatch { path: String, expected: u64, actual: usize },
    #[error("file {path:?} has SHA-256 {actual}, the manifest says {expected} (corrupted)")]
    HashMismatch { path: String, expected: String, actual: String },
    #[error("file {path:?} is not valid JSON of the expected shape: {reason}")]
    MalformedFile { path: String, reason: String },
    #[error("matrix {path:?}: {reason}")]
    WrongDimensions { path: String, reason: String },
    #[error("matrix {path:?}: {source}")]
    BadMatrix { path: String, source: MatrixError },
    #[error("matrix {path:?} has dtype {dtype:?}; only \"f32\" is supported")]
    UnsupportedDtype { path: String, dtype: String },
    #[error("{CATALOG_PATH}: {0}")]
    Catalog(#[from] CatalogError),
    #[error("{path:?}: {reason}")]
    Inconsistent { path: String, reason: String },
}

impl BundleError {
    /// Stable machine-readable code, carried to JS as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingManifest => "bundle_missing_manifest",
            Self::MalformedManifest { .. } => "bundle_malformed_manifest",
            Self::UnsupportedFormat { .. } => "bundle_unsupported_format",
            Self::BadSignature { .. } => "bundle_bad_signature",
            Self::Limit(exceeded) => exceeded.limit.code(),
            Self::Catalog(CatalogError::Limit(exceeded)) => exceeded.limit.code(),
            Self::ParityMissing { .. } => "bundle_parity_missing",
            Self::MissingFile { .. } => "bundle_missing_file",
            Self::UnlistedFile { .. } => "bundle_unlisted_file",
            Self::SizeMismatch { .. } => "bundle_size_mismatch",
            Self::HashMismatch { .. } => "bundle_hash_mismatch",
            Self::MalformedFile { .. } => "bundle_malformed_file",
            Self::WrongDimensions { .. } => "bundle_wrong_dimensions",
            Self::BadMatrix {
                source: MatrixError::NonFinite { .. } | MatrixError::BadScale { .. }, ..
            } => "bundle_non_finite",
            Self::BadMatrix { .. } => "bundle_wrong_dimensions",
            Self::UnsupportedDtype { .. } => "bundle_unsupported_dtype",
            Self::Catalog(_) => "bundle_bad_catalog",
            Self::Inconsistent { .. } => "bundle_inconsistent",
        }
    }
}

/// Known users of the factor model and the items each saw in training.
#[derive(Debug, Clone, Deserialize)]
pub struct Users {
    pub ids: Vec<String>,
    pub seen: Vec<Vec<u32>>,
}

/// A verified bundle, decoded but not yet turned into models. It borrows
/// the files for what is parsed later (the next-up encoder), so nothing as
/// large as an item matrix is copied only to be read once.
#[derive(Debug)]
pub struct Bundle<'a> {
    pub manifest: Manifest,
    pub catalog: Catalog,
    pub similar: Option<ItemMatrix>,
    pub factors: Option<FactorMatrices>,
    pub next_up: Option<NextUpParts<'a>>,
    /// items × 2: trending, popularity.
    pub popularity: Option<ItemMatrix>,
    pub together: Option<Together>,
    /// Loaded as one shard of a split version: the split matrices hold only its rows.
    pub shard: Option<Shard>,
}

/// Each item's "bought together" partners (rows) and scores, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Together {
    offsets: Vec<u32>,
    partners: Vec<u32>,
    scores: Vec<f32>,
}

impl Together {
    /// Item `row`'s partners and their scores.
    pub fn partners(&self, row: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (start, end) = (self.offsets[row] as usize, self.offsets[row + 1] as usize);
        self.partners[start..end].iter().zip(&self.scores[start..end]).map(|(&p, &s)| (p as usize, s))
    }

    /// Decodes and checks the CSR file of `items` rows and `pairs` pairs.
    fn decode(bytes: &[u8], items: usize, pairs: u64, path: &str) -> Result<Self, BundleError> {
        let wrong = |reason: String| BundleError::WrongDimensions { path: path.to_owned(), reason };
        let expected = (items as u64 + 1).checked_mul(4).and_then(|o| pairs.checked_mul(8)?.checked_add(o));
        if expected != Some(bytes.len() as u64) {
            return Err(wrong(format!(
                "{} bytes do not hold {} offsets and {pairs} pairs",
                bytes.len(),
                items + 1
            )));
        }
        let words = |part: &[u8]| -> Vec<u32> {
            part.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        let (offsets, rest) = bytes.split_at(4 * (items + 1));
        let (partners, scores) = rest.split_at(rest.len() / 2);
        let (offsets, partners) = (words(offsets), words(partners));
        let scores: Vec<f32> = words(scores).into_iter().map(f32::from_bits).collect();
        if offsets.first() != Some(&0)
            || offsets.last().map(|&o| u64::from(o)) != Some(pairs)
            || offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(wrong("offsets must rise from 0 to the number of pairs".into()));
        }
        if let Some(bad) = partners.iter().find(|&&p| p as usize >= items) {
            return Err(wrong(format!("partner row {bad} is outside the catalog ({items} items)")));
        }
        if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
            return Err(wrong(format!("score {bad} is not finite")));
        }
        Ok(Self { offsets, partners, scores })
    }
}

#[derive(Debug)]
pub struct NextUpParts<'a> {
    /// The ONNX file's bytes, verified; None in a shard that does not run it.
    pub encoder: Option<&'a [u8]>,
    pub items: ItemMatrix,
    pub max_len: usize,
}

#[derive(Debug)]
pub struct FactorMatrices {
    pub items: ItemMatrix,
    pub known_users: Option<KnownUserParts>,
    pub fold_in_lambda: f64,
}

/// The users a research bundle names: their factors and training items.
#[derive(Debug)]
pub struct KnownUserParts {
    pub factors: Matrix,
    pub list: Users,
}

impl<'a> Bundle<'a> {
    /// Verifies and decodes a bundle with the default limits and no pinned keys.
    pub fn from_files(files: &'a BundleFiles) -> Result<Self, BundleError> {
        Self::from_files_with(files, &LoadOptions::default())
    }

    pub fn from_files_with(files: &'a BundleFiles, options: &LoadOptions) -> Result<Self, BundleError> {
        let limits = &options.limits;
        let manifest_bytes = files.get(MANIFEST_PATH).ok_or(BundleError::MissingManifest)?;
        limits.check(Limit::ManifestBytes, "manifest.json's size in bytes", manifest_bytes.len() as u64)?;
        let signature = files.get(SIGNATURE_PATH).map(Vec::as_slice);
        verify_manifest(manifest_bytes, signature, &options.public_keys)?;
        let manifest = parse_manifest(manifest_bytes)?;
        check_limits(&manifest, limits)?;
        // A build without the encoder never reads next up's files: they may be
        // absent (a page's first load answers before they have arrived), and
        // are verified when present. The full build requires them.
        let optional: Vec<&str> = match &manifest.models.next_up {
            Some(spec) if !ENCODERS_BUILT_IN => vec![spec.encoder.as_str(), spec.items.file.as_str()],
            _ => Vec::new(),
        };
        let verified = Verified::check(&manifest, files, &optional)?;
        // Next up, its items and its encoder, only in the build that runs it.
        Self::decode(manifest, verified, limits, ENCODERS_BUILT_IN, ENCODERS_BUILT_IN)
    }

    /// One shard's part of a version, its files verified as they arrived
    /// ([`ShardFiles`]). Its split matrices hold only its rows; next up's
    /// item rows are loaded in every build, the encoder only by shard 0 of a
    /// build that runs it.
    pub fn from_shard(verified: &'a VerifiedShard, options: &LoadOptions) -> Result<Self, BundleError> {
        let manifest = verified.manifest.clone();
        let shard = verified.shard;
        let split: Vec<String> =
            shard::split_matrices(&manifest).iter().map(|spec| spec.file.clone()).collect();
        let files = Verified {
            files: verified.files.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice())).collect(),
            held: Some((shard.rows(manifest.item_count as usize), split)),
        };
        let mut bundle =
            Self::decode(manifest, files, &options.limits, true, ENCODERS_BUILT_IN && shard.has_encoder())?;
        bundle.shard = Some(shard);
        Ok(bundle)
    }

    fn decode(
        manifest: Manifest,
        verified: Verified<'a>,
        limits: &Limits,
        next_up_loaded: bool,
        encoder_loaded: bool,
    ) -> Result<Self, BundleError> {
        let catalog = Catalog::new(verified.json::<CatalogFile>(CATALOG_PATH)?.items, limits)?;
        // Within max_items, so it fits a usize on every target.
        let item_count = manifest.item_count as usize;
        if catalog.len() != item_count {
            return Err(BundleError::Inconsistent {
                path: CATALOG_PATH.into(),
                reason: format!("has {} items, the manifest's item_count is {item_count}", catalog.len()),
            });
        }
        let similar = match &manifest.models.similar {
            Some(spec) if spec.content_columns > spec.embeddings.cols => {
                return Err(BundleError::WrongDimensions {
                    path: spec.embeddings.file.clone(),
                    reason: format!(
                        "content_columns is {}, the matrix has {} columns",
                        spec.content_columns, spec.embeddings.cols
                    ),
                })
            }
            Some(spec) => Some(verified.item_matrix(&spec.embeddings, Some(item_count))?),
            None => None,
        };
        let factors = match &manifest.models.factors {
            Some(spec) => Some(verified.factors(spec, item_count, limits)?),
            None => None,
        };
        let next_up = match &manifest.models.next_up {
            Some(spec) if next_up_loaded => Some(NextUpParts {
                encoder: if encoder_loaded { Some(verified.bytes(&spec.encoder)?) } else { None },
                items: verified.item_matrix(&spec.items, Some(item_count))?,
                // Within max_sequence_length (checked above).
                max_len: spec.max_len as usize,
            }),
            _ => None,
        };
        let popularity = match &manifest.models.popularity {
            Some(spec) if spec.scores.cols != 2 => {
                return Err(BundleError::WrongDimensions {
                    path: spec.scores.file.clone(),
                    reason: format!(
                        "{} columns, popularity scores have 2 (trending, all time)",
                        spec.scores.cols
                    ),
                })
            }
            Some(spec) => Some(verified.item_matrix(&spec.scores, Some(item_count))?),
            None => None,
        };
        let together = match &manifest.models.together {
            Some(spec) => {
                Some(Together::decode(verified.bytes(&spec.file)?, item_count, spec.pairs, &spec.file)?)
            }
            None => None,
        };
        Ok(Self { manifest, catalog, similar, factors, next_up, popularity, together, shard: None })
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    items: Vec<Item>,
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    // The format is read first, on its own, so a newer major version is
    // reported as such even if the rest no longer parses as version 1.
    #[derive(Deserialize)]
    struct FormatOnly {
        format: String,
    }
    let malformed = |e: serde_json::Error| BundleError::MalformedManifest { reason: e.to_string() };
    let FormatOnly { format } = serde_json::from_slice(bytes).map_err(malformed)?;
    if format_major(&format) != Some(FORMAT_MAJOR) {
        return Err(BundleError::UnsupportedFormat { found: format });
    }
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(malformed)?;
    if !manifest.parity.tolerance.is_finite() || manifest.parity.tolerance < 0.0 {
        return Err(BundleError::MalformedManifest {
            reason: format!("parity tolerance {} is not a finite number >= 0", manifest.parity.tolerance),
        });
    }
    Ok(manifest)
}

/// Every size the manifest states, against the limits, before any file is
/// read; and every model it ships has at least one parity case.
fn check_limits(manifest: &Manifest, limits: &Limits) -> Result<(), BundleError> {
    limits.check(Limit::Files, "the number of files", manifest.files.len() as u64)?;
    let mut total = 0u64;
    for file in &manifest.files {
        limits.check(Limit::FileBytes, &format!("the size of {:?} in bytes", file.path), file.bytes)?;
        total = total.saturating_add(file.bytes);
    }
    limits.check(Limit::BundleBytes, "the size of all files in bytes", total)?;
    limits.check(Limit::Items, "item_count", manifest.item_count)?;
    let models = &manifest.models;
    let mut matrices: Vec<&MatrixSpec> = Vec::new();
    if let Some(similar) = &models.similar {
        matrices.push(&similar.embeddings);
    }
    if let Some(factors) = &models.factors {
        matrices.push(&factors.items);
        match (&factors.users, &factors.users_file) {
            (Some(users), Some(_)) => {
                matrices.push(users);
                limits.check(Limit::Users, &format!("the rows of {:?}", users.file), users.rows)?;
            }
            (None, None) => {}
            _ => {
                return Err(BundleError::MalformedManifest {
                    reason: "models.factors needs both users and users_file, or neither".into(),
                })
            }
        }
    }
    if let Some(popularity) = &models.popularity {
        matrices.push(&popularity.scores);
    }
    if let Some(next_up) = &models.next_up {
        matrices.push(&next_up.items);
        limits.check(Limit::SequenceLength, "next_up max_len", next_up.max_len)?;
    }
    for spec in matrices {
        limits.check(Limit::Dim, &format!("the columns of {:?}", spec.file), spec.cols)?;
    }
    let cases = &manifest.parity.cases;
    limits.check(Limit::ParityCases, "the number of parity cases", cases.len() as u64)?;
    let proven = |model: &'static str, present: bool, test: fn(&ParityCase) -> bool| {
        if present && !cases.iter().any(test) {
            return Err(BundleError::ParityMissing { model });
        }
        Ok(())
    };
    proven("similar", models.similar.is_some(), |c| matches!(c, ParityCase::Similar { .. }))?;
    proven("factors", models.factors.is_some(), |c| {
        matches!(c, ParityCase::ForUser { .. } | ParityCase::ForHistory { .. })
    })?;
    proven("next_up", models.next_up.is_some(), |c| matches!(c, ParityCase::NextUp { .. }))?;
    proven("popularity", models.popularity.is_some(), |c| matches!(c, ParityCase::Trending { .. }))?;
    proven("together", models.together.is_some(), |c| matches!(c, ParityCase::Together { .. }))?;
    Ok(())
}

/// Files whose presence, size and hash have been checked against the manifest.
struct Verified<'f> {
    files: BTreeMap<&'f str, &'f [u8]>,
    /// A shard's: the item rows it holds, and the files holding only those rows.
    held: Option<(Range<usize>, Vec<String>)>,
}

impl<'f> Verified<'f> {
    /// Every listed file must be present, except those in `optional`.
    fn check(manifest: &Manifest, files: &'f BundleFiles, optional: &[&str]) -> Result<Self, BundleError> {
        let mut verified = BTreeMap::new();
        for entry in &manifest.files {
            let Some((path, bytes)) = files.get_key_value(&entry.path) else {
                if optional.contains(&entry.path.as_str()) {
                    continue;
                }
                return Err(BundleError::MissingFile { path: entry.path.clone() });
            };
            if bytes.len() as u64 != entry.bytes {
                return Err(BundleError::SizeMismatch {
                    path: entry.path.clone(),
                    expected: entry.bytes,
                    actual: bytes.len(),
                });
            }
            let actual = sha256_hex(bytes);
            if !actual.eq_ignore_ascii_case(&entry.sha256) {
                return Err(BundleError::HashMismatch {
                    path: entry.path.clone(),
                    expected: entry.sha256.clone(),
                    actual,
                });
            }
            verified.insert(path.as_str(), bytes.as_slice());
        }
        Ok(Self { files: verified, held: None })
    }

    fn bytes(&self, path: &str) -> Result<&'f [u8], BundleError> {
        self.files.get(path).copied().ok_or_else(|| BundleError::UnlistedFile { path: path.to_owned() })
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, BundleError> {
        serde_json::from_slice(self.bytes(path)?)
            .map_err(|e| BundleError::MalformedFile { path: path.to_owned(), reason: e.to_string() })
    }

    /// An f32 matrix (known users' factors).
    fn matrix(&self, spec: &MatrixSpec, rows: Option<usize>) -> Result<Matrix, BundleError> {
        let unsupported =
            || BundleError::UnsupportedDtype { path: spec.file.clone(), dtype: spec.dtype.clone() };
        if spec.dtype != "f32" {
            return Err(unsupported());
        }
        match self.item_matrix(spec, rows)? {
            ItemMatrix::F32(matrix) => Ok(matrix),
            ItemMatrix::I8(_) => Err(unsupported()),
        }
    }

    /// An item matrix: `f32` (rows × cols values) or `i8` (rows × cols
    /// values, then one f32 scale per row).
    fn item_matrix(&self, spec: &MatrixSpec, rows: Option<usize>) -> Result<ItemMatrix, BundleError> {
        let path = spec.file.clone();
        // A shard's part of a split matrix: its rows only, in the same layout.
        let held = match &self.held {
            Some((held, split)) if split.contains(&spec.file) => held.len() as u64,
            _ => spec.rows,
        };
        // u64 and checked: on wasm32 a usize product could wrap to the file's real size.
        let values = held.checked_mul(spec.cols);
        let (expected, what) = match spec.dtype.as_str() {
            "f32" => (values.and_then(|v| v.checked_mul(4)), "f32 values"),
            "i8" => (values.and_then(|v| v.checked_add(held.checked_mul(4)?)), "i8 values and row scales"),
            _ => return Err(BundleError::UnsupportedDtype { path, dtype: spec.dtype.clone() }),
        };
        if let Some(rows) = rows.filter(|&rows| rows as u64 != spec.rows) {
            return Err(BundleError::WrongDimensions {
                path,
                reason: format!("manifest says {} rows, the catalog has {rows} items", spec.rows),
            });
        }
        let bytes = self.bytes(&spec.file)?;
        if expected != Some(bytes.len() as u64) {
            return Err(BundleError::WrongDimensions {
                path,
                reason: format!(
                    "{} bytes do not hold {}x{} {what} ({} bytes)",
                    bytes.len(),
                    held,
                    spec.cols,
                    expected.map_or("more than 2^64".into(), |e| e.to_string())
                ),
            });
        }
        // Both fit a usize: their product is at most the length of bytes already in memory.
        let (rows, cols) = (held as usize, spec.cols as usize);
        let decoded = if spec.dtype == "f32" {
            Matrix::from_le_bytes(rows, cols, bytes).map(ItemMatrix::F32)
        } else {
            QuantizedMatrix::from_le_bytes(rows, cols, bytes).map(ItemMatrix::I8)
        };
        decoded.map_err(|source| BundleError::BadMatrix { path, source })
    }

    fn factors(
        &self,
        spec: &FactorsSpec,
        item_count: usize,
        limits: &Limits,
    ) -> Result<FactorMatrices, BundleError> {
        let items = self.item_matrix(&spec.items, Some(item_count))?;
        if !spec.fold_in_lambda.is_finite() || spec.fold_in_lambda < 0.0 {
            return Err(BundleError::MalformedManifest {
                reason: format!("fold_in_lambda {} is not a finite number >= 0", spec.fold_in_lambda),
            });
        }
        let known_users = match (&spec.users, &spec.users_file) {
            (Some(users), Some(users_file)) => {
                Some(self.known_users(users, users_file, &items, item_count, limits)?)
            }
            _ => None,
        };
        Ok(FactorMatrices { items, known_users, fold_in_lambda: spec.fold_in_lambda })
    }

    fn known_users(
        &self,
        spec: &MatrixSpec,
        users_file: &str,
        items: &ItemMatrix,
        item_count: usize,
        limits: &Limits,
    ) -> Result<KnownUserParts, BundleError> {
        let list: Users = self.json(users_file)?;
        limits.check(Limit::Users, &format!("the users in {users_file:?}"), list.ids.len() as u64)?;
        let factors = self.matrix(spec, Some(list.ids.len()))?;
        let inconsistent = |reason: String| BundleError::Inconsistent { path: users_file.to_owned(), reason };
        if factors.cols() != items.cols() {
            return Err(BundleError::WrongDimensions {
                path: spec.file.clone(),
                reason: format!("{} columns, the item factors have {}", factors.cols(), items.cols()),
            });
        }
        if list.seen.len() != list.ids.len() {
            return Err(inconsistent(format!(
                "{} ids but {} seen-item lists",
                list.ids.len(),
                list.seen.len()
            )));
        }
        if let Some(bad) = list.seen.iter().flatten().find(|&&i| i as usize >= item_count) {
            return Err(inconsistent(format!(
                "seen item index {bad} is outside the catalog ({item_count} items)"
            )));
        }
        Ok(KnownUserParts { factors, list })
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads every regular file of a bundle folder, keyed by file name (native
/// tools; in a browser the JS layer fetches the files instead).
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<BundleFiles> {
    let mut files = BundleFiles::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            files.insert(name, std::fs::read(&path)?);
        }
    }
    Ok(files)
}
