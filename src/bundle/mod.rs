//! The versioned model bundle: a manifest plus immutable files.
//!
//! [`Bundle::from_files`] takes the files as bytes keyed by path (never a
//! filesystem path), so native code, wasm and tests share one loader. It
//! verifies everything before anything is used: every listed file present,
//! sizes, SHA-256, matrix dimensions against the item count, finite numbers.

mod manifest;

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::catalog::{Catalog, CatalogError, Item};
use crate::kernel::{Matrix, MatrixError};
pub use manifest::{
    Expected, FactorsSpec, FileEntry, Manifest, MatrixSpec, Models, NextUpSpec, Parity, ParityCase,
    SimilarSpec, FORMAT, MANIFEST_PATH,
};

/// Bundle files keyed by their path inside the bundle (`manifest.json`,
/// `catalog.json`, ...).
pub type BundleFiles = BTreeMap<String, Vec<u8>>;

pub const CATALOG_PATH: &str = "catalog.json";

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("bundle has no {MANIFEST_PATH}")]
    MissingManifest,
    #[error("{MANIFEST_PATH} is malformed: {reason}")]
    MalformedManifest { reason: String },
    #[error("{MANIFEST_PATH} has format {found:?}; this engine reads {FORMAT:?}")]
    UnsupportedFormat { found: String },
    #[error("file {path:?} is listed in the manifest but missing from the bundle")]
    MissingFile { path: String },
    #[error("file {path:?} is not listed in the manifest's files")]
    UnlistedFile { path: String },
    #[error("file {path:?} is {actual} bytes, the manifest says {expected} (truncated or padded)")]
    SizeMismatch { path: String, expected: usize, actual: usize },
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
            Self::MissingFile { .. } => "bundle_missing_file",
            Self::UnlistedFile { .. } => "bundle_unlisted_file",
            Self::SizeMismatch { .. } => "bundle_size_mismatch",
            Self::HashMismatch { .. } => "bundle_hash_mismatch",
            Self::MalformedFile { .. } => "bundle_malformed_file",
            Self::WrongDimensions { .. } => "bundle_wrong_dimensions",
            Self::BadMatrix { source: MatrixError::NonFinite { .. }, .. } => "bundle_non_finite",
            Self::BadMatrix { .. } => "bundle_wrong_dimensions",
            Self::UnsupportedDtype { .. } => "bundle_unsupported_dtype",
            Self::Catalog(_) => "bundle_bad_catalog",
            Self::Inconsistent { .. } => "bundle_inconsistent",
        }
    }
}

/// Known users of the factor model and the items each saw in training.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    pub ids: Vec<String>,
    pub seen: Vec<Vec<u32>>,
}

/// A verified bundle, decoded but not yet turned into models.
#[derive(Debug)]
pub struct Bundle {
    pub manifest: Manifest,
    pub catalog: Catalog,
    pub similar: Option<Matrix>,
    pub factors: Option<FactorMatrices>,
    pub next_up: Option<NextUpParts>,
}

#[derive(Debug)]
pub struct NextUpParts {
    pub encoder: Vec<u8>,
    pub items: Matrix,
    pub max_len: usize,
}

#[derive(Debug)]
pub struct FactorMatrices {
    pub items: Matrix,
    pub users: Matrix,
    pub users_list: Users,
    pub fold_in_lambda: f64,
}

impl Bundle {
    pub fn from_files(files: &BundleFiles) -> Result<Self, BundleError> {
        let manifest = parse_manifest(files)?;
        let verified = Verified::check(&manifest, files)?;
        let catalog = Catalog::new(verified.json::<CatalogFile>(CATALOG_PATH)?.items)?;
        if catalog.len() != manifest.item_count {
            return Err(BundleError::Inconsistent {
                path: CATALOG_PATH.into(),
                reason: format!(
                    "has {} items, the manifest's item_count is {}",
                    catalog.len(),
                    manifest.item_count
                ),
            });
        }
        let item_count = manifest.item_count;
        let similar = match &manifest.models.similar {
            Some(spec) => Some(verified.matrix(&spec.embeddings, Some(item_count))?),
            None => None,
        };
        let factors = match &manifest.models.factors {
            Some(spec) => Some(verified.factors(spec, item_count)?),
            None => None,
        };
        let next_up = match &manifest.models.next_up {
            Some(spec) => Some(NextUpParts {
                encoder: verified.bytes(&spec.encoder)?.to_vec(),
                items: verified.matrix(&spec.items, Some(item_count))?,
                max_len: spec.max_len,
            }),
            None => None,
        };
        Ok(Self { manifest, catalog, similar, factors, next_up })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    items: Vec<Item>,
}

fn parse_manifest(files: &BundleFiles) -> Result<Manifest, BundleError> {
    let bytes = files.get(MANIFEST_PATH).ok_or(BundleError::MissingManifest)?;
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| BundleError::MalformedManifest { reason: e.to_string() })?;
    if manifest.format != FORMAT {
        return Err(BundleError::UnsupportedFormat { found: manifest.format });
    }
    if !manifest.parity.tolerance.is_finite() || manifest.parity.tolerance < 0.0 {
        return Err(BundleError::MalformedManifest {
            reason: format!("parity tolerance {} is not a finite number >= 0", manifest.parity.tolerance),
        });
    }
    Ok(manifest)
}

/// Files whose presence, size and hash have been checked against the manifest.
struct Verified<'a> {
    files: BTreeMap<&'a str, &'a [u8]>,
}

impl<'a> Verified<'a> {
    fn check(manifest: &'a Manifest, files: &'a BundleFiles) -> Result<Self, BundleError> {
        let mut verified = BTreeMap::new();
        for entry in &manifest.files {
            let bytes = files
                .get(&entry.path)
                .ok_or_else(|| BundleError::MissingFile { path: entry.path.clone() })?;
            if bytes.len() != entry.bytes {
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
            verified.insert(entry.path.as_str(), bytes.as_slice());
        }
        Ok(Self { files: verified })
    }

    fn bytes(&self, path: &str) -> Result<&'a [u8], BundleError> {
        self.files.get(path).copied().ok_or_else(|| BundleError::UnlistedFile { path: path.to_owned() })
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, BundleError> {
        serde_json::from_slice(self.bytes(path)?)
            .map_err(|e| BundleError::MalformedFile { path: path.to_owned(), reason: e.to_string() })
    }

    fn matrix(&self, spec: &MatrixSpec, rows: Option<usize>) -> Result<Matrix, BundleError> {
        let path = spec.file.clone();
        if spec.dtype != "f32" {
            return Err(BundleError::UnsupportedDtype { path, dtype: spec.dtype.clone() });
        }
        if let Some(rows) = rows.filter(|&rows| rows != spec.rows) {
            return Err(BundleError::WrongDimensions {
                path,
                reason: format!("manifest says {} rows, the catalog has {rows} items", spec.rows),
            });
        }
        let bytes = self.bytes(&spec.file)?;
        let expected = spec.rows * spec.cols * 4;
        if bytes.len() != expected {
            return Err(BundleError::WrongDimensions {
                path,
                reason: format!(
                    "{} bytes do not hold {}x{} f32 values ({expected} bytes)",
                    bytes.len(),
                    spec.rows,
                    spec.cols
                ),
            });
        }
        Matrix::from_le_bytes(spec.rows, spec.cols, bytes)
            .map_err(|source| BundleError::BadMatrix { path, source })
    }

    fn factors(&self, spec: &FactorsSpec, item_count: usize) -> Result<FactorMatrices, BundleError> {
        let items = self.matrix(&spec.items, Some(item_count))?;
        let users_list: Users = self.json(&spec.users_file)?;
        let users = self.matrix(&spec.users, Some(users_list.ids.len()))?;
        let inconsistent =
            |reason: String| BundleError::Inconsistent { path: spec.users_file.clone(), reason };
        if users.cols() != items.cols() {
            return Err(BundleError::WrongDimensions {
                path: spec.users.file.clone(),
                reason: format!("{} columns, the item factors have {}", users.cols(), items.cols()),
            });
        }
        if users_list.seen.len() != users_list.ids.len() {
            return Err(inconsistent(format!(
                "{} ids but {} seen-item lists",
                users_list.ids.len(),
                users_list.seen.len()
            )));
        }
        if let Some(bad) = users_list.seen.iter().flatten().find(|&&i| i as usize >= item_count) {
            return Err(inconsistent(format!(
                "seen item index {bad} is outside the catalog ({item_count} items)"
            )));
        }
        if !spec.fold_in_lambda.is_finite() || spec.fold_in_lambda < 0.0 {
            return Err(BundleError::MalformedManifest {
                reason: format!("fold_in_lambda {} is not a finite number >= 0", spec.fold_in_lambda),
            });
        }
        Ok(FactorMatrices { items, users, users_list, fold_in_lambda: spec.fold_in_lambda })
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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
