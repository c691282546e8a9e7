//! One shard of a version split across several engines (docs/shards.md).
//!
//! The item matrices that rankings scan (similar's embeddings, the item
//! factors, next up's item matrix) are split by rows: shard `index` of
//! `count` holds rows `rows(item_count)` of each. Everything else is held
//! whole, except the next-up encoder, which only shard 0 holds.
//!
//! A shard never holds a whole split file, even while verifying it: the
//! files arrive in pieces ([`ShardFiles::add`]), each is hashed as it
//! streams, and only the shard's byte ranges are kept. wasm memory never
//! shrinks, so a whole copy would cost as much as not splitting at all.

use std::collections::BTreeMap;
use std::ops::Range;

use sha2::{Digest, Sha256};

use super::{
    check_limits, hex, parse_manifest, verify_manifest, BundleError, BundleFiles, LoadOptions, Manifest,
    MatrixSpec, MANIFEST_PATH, SIGNATURE_PATH,
};

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The shard, or why it cannot be one (`count` from 1, `index` below it).
    pub fn new(index: usize, count: usize) -> Result<Self, String> {
        if count == 0 || index >= count {
            return Err(format!("shard {index} of {count}: the index must be below the count, from 1"));
        }
        Ok(Self { index, count })
    }

    /// The item rows this shard holds: as equal as whole rows allow.
    pub fn rows(&self, items: usize) -> Range<usize> {
        let edge = |i: usize| (i as u128 * items as u128 / self.count as u128) as usize;
        edge(self.index)..edge(self.index + 1)
    }

    /// Holds the next-up encoder (and runs it for every shard).
    pub fn has_encoder(&self) -> bool {
        self.index == 0
    }
}

/// The paths of the matrices split by rows, with their specs.
pub(super) fn split_matrices(manifest: &Manifest) -> Vec<&MatrixSpec> {
    let models = &manifest.models;
    let mut split = Vec::new();
    if let Some(similar) = &models.similar {
        split.push(&similar.embeddings);
    }
    if let Some(factors) = &models.factors {
        split.push(&factors.items);
    }
    if let Some(next_up) = &models.next_up {
        split.push(&next_up.items);
    }
    split
}

/// A file arriving in pieces: hashed as it streams, only `keep` retained.
struct Incoming {
    expected_bytes: u64,
    sha256: String,
    hasher: Sha256,
    received: u64,
    /// Byte ranges of the file this shard keeps, ascending; None: all of it.
    keep: Option<Vec<Range<u64>>>,
    kept: Vec<u8>,
    /// What `kept` will hold: reserved with the first piece.
    kept_bytes: usize,
}

/// Receives a version's files for one shard; [`ShardFiles::finish`] checks
/// that every file it needs arrived whole, with its size and SHA-256.
pub struct ShardFiles {
    manifest_bytes: Vec<u8>,
    signature: Option<Vec<u8>>,
    manifest: Manifest,
    shard: Shard,
    incoming: BTreeMap<String, Incoming>,
}

/// A shard's files, verified: what [`super::Bundle::from_shard`] loads.
pub struct VerifiedShard {
    pub(super) manifest: Manifest,
    pub(super) files: BundleFiles,
    pub(super) shard: Shard,
}

impl ShardFiles {
    /// Checks the manifest (size, signature with `options.public_keys`,
    /// format, limits) before any other file is read.
    pub fn new(
        manifest_bytes: &[u8],
        signature: Option<&[u8]>,
        options: &LoadOptions,
        shard: Shard,
    ) -> Result<Self, BundleError> {
        let limits = &options.limits;
        limits.check(
            super::Limit::ManifestBytes,
            "manifest.json's size in bytes",
            manifest_bytes.len() as u64,
        )?;
        verify_manifest(manifest_bytes, signature, &options.public_keys)?;
        let manifest = parse_manifest(manifest_bytes)?;
        check_limits(&manifest, limits)?;
        let item_count = manifest.item_count;
        let held = shard.rows(item_count as usize);
        let (start, end) = (held.start as u64, held.end as u64);
        let mut keep: BTreeMap<&str, Vec<Range<u64>>> = BTreeMap::new();
        for spec in split_matrices(&manifest) {
            // Saturating: a spec whose sizes overflow fails its size check later.
            let row_bytes = |width: u64| spec.cols.saturating_mul(width);
            let ranges = match spec.dtype.as_str() {
                "i8" => {
                    let scales = spec.rows.saturating_mul(spec.cols);
                    vec![
                        start.saturating_mul(row_bytes(1))..end.saturating_mul(row_bytes(1)),
                        scales.saturating_add(start * 4)..scales.saturating_add(end * 4),
                    ]
                }
                _ => std::iter::once(start.saturating_mul(row_bytes(4))..end.saturating_mul(row_bytes(4)))
                    .collect(),
            };
            keep.insert(spec.file.as_str(), ranges);
        }
        let incoming = manifest
            .files
            .iter()
            .map(|entry| {
                let keep = keep.get(entry.path.as_str()).cloned();
                // Reserved once (sizes are within the limits): a growing copy would double them.
                let kept_bytes = match &keep {
                    None => entry.bytes,
                    Some(ranges) => ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum(),
                };
                let incoming = Incoming {
                    expected_bytes: entry.bytes,
                    sha256: entry.sha256.clone(),
                    hasher: Sha256::new(),
                    received: 0,
                    keep,
                    kept: Vec::new(),
                    kept_bytes: usize::try_from(kept_bytes).unwrap_or(usize::MAX),
                };
                (entry.path.clone(), incoming)
            })
            .collect();
        Ok(Self {
            manifest_bytes: manifest_bytes.to_vec(),
            signature: signature.map(<[u8]>::to_vec),
            manifest,
            shard,
            incoming,
        })
    }

    /// Whether this shard needs `path` (every listed file but the next-up
    /// encoder, which only shard 0 runs).
    pub fn needs(&self, path: &str) -> bool {
        self.incoming.contains_key(path) && !self.skipped(path)
    }

    fn skipped(&self, path: &str) -> bool {
        skipped(&self.manifest, self.shard, path)
    }

    /// The next piece of `path`, in order.
    pub fn add(&mut self, path: &str, piece: &[u8]) -> Result<(), BundleError> {
        let skipped = self.skipped(path);
        let file =
            self.incoming.get_mut(path).ok_or_else(|| BundleError::UnlistedFile { path: path.to_owned() })?;
        let offset = file.received;
        file.received = offset.saturating_add(piece.len() as u64);
        if file.received > file.expected_bytes {
            return Err(BundleError::SizeMismatch {
                path: path.to_owned(),
                expected: file.expected_bytes,
                actual: usize::try_from(file.received).unwrap_or(usize::MAX),
            });
        }
        if skipped {
            return Ok(());
        }
        if offset == 0 {
            file.kept.reserve_exact(file.kept_bytes);
        }
        file.hasher.update(piece);
        match &file.keep {
            None => file.kept.extend_from_slice(piece),
            Some(ranges) => {
                let piece_end = file.received;
                for range in ranges {
                    let (from, to) = (range.start.max(offset), range.end.min(piece_end));
                    if from < to {
                        file.kept.extend_from_slice(&piece[(from - offset) as usize..(to - offset) as usize]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every needed file arrived whole with the manifest's SHA-256.
    pub fn finish(self) -> Result<VerifiedShard, BundleError> {
        let mut files = BundleFiles::new();
        files.insert(MANIFEST_PATH.to_owned(), self.manifest_bytes);
        if let Some(signature) = self.signature {
            files.insert(SIGNATURE_PATH.to_owned(), signature);
        }
        for (path, file) in self.incoming {
            if skipped(&self.manifest, self.shard, &path) {
                continue;
            }
            if file.received == 0 && file.expected_bytes > 0 {
                return Err(BundleError::MissingFile { path });
            }
            if file.received != file.expected_bytes {
                return Err(BundleError::SizeMismatch {
                    path,
                    expected: file.expected_bytes,
                    actual: usize::try_from(file.received).unwrap_or(usize::MAX),
                });
            }
            let actual = hex(&file.hasher.finalize());
            if !actual.eq_ignore_ascii_case(&file.sha256) {
                return Err(BundleError::HashMismatch { path, expected: file.sha256, actual });
            }
            files.insert(path, file.kept);
        }
        Ok(VerifiedShard { manifest: self.manifest, files, shard: self.shard })
    }
}

/// The next-up encoder, in a shard that does not run it.
fn skipped(manifest: &Manifest, shard: Shard, path: &str) -> bool {
    !shard.has_encoder() && manifest.models.next_up.as_ref().is_some_and(|spec| spec.encoder == path)
}

/// A whole version's files cut into one shard's, through [`ShardFiles`] in
/// pieces of `piece` bytes (native tools and tests; a Worker streams them).
pub fn shard_of(
    files: &BundleFiles,
    options: &LoadOptions,
    shard: Shard,
    piece: usize,
) -> Result<VerifiedShard, BundleError> {
    let manifest = files.get(MANIFEST_PATH).ok_or(BundleError::MissingManifest)?;
    let signature = files.get(SIGNATURE_PATH).map(Vec::as_slice);
    let mut receiver = ShardFiles::new(manifest, signature, options, shard)?;
    for (path, bytes) in files {
        if path == MANIFEST_PATH || path == SIGNATURE_PATH || !receiver.needs(path) {
            continue;
        }
        for chunk in bytes.chunks(piece.max(1)) {
            receiver.add(path, chunk)?;
        }
    }
    receiver.finish()
}
