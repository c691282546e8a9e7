//! How big a bundle may be. Every size a manifest states is checked against
//! these before any file is read or any memory is set aside for it, so a
//! hostile or broken manifest is refused with a code instead of exhausting
//! memory. The same names and defaults live in `www/lib/limits.js`.

use serde::Deserialize;

/// Upper bounds on what a bundle may ask for. The defaults fit a shop of
/// about a million items (docs/bundle-format.md explains each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Catalog items (rows of every item matrix).
    pub max_items: u64,
    /// Columns of any matrix: embedding and factor dimensions. Fold-in costs
    /// dim² memory and dim³ time at load.
    pub max_dim: u64,
    /// The next-up encoder's history length (`max_len`).
    pub max_sequence_length: u64,
    /// Users of the factor model.
    pub max_users: u64,
    /// Distinct categories in the catalog.
    pub max_categories: u64,
    /// Item-in-category memberships, summed over all items.
    pub max_category_memberships: u64,
    /// Parity cases in the manifest.
    pub max_parity_cases: u64,
    /// Files listed in the manifest.
    pub max_files: u64,
    /// Bytes of `manifest.json`.
    pub max_manifest_bytes: u64,
    /// Bytes of any one file.
    pub max_file_bytes: u64,
    /// Bytes of all listed files together.
    pub max_bundle_bytes: u64,
}

const MIB: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_items: 2_000_000,
            max_dim: 1_024,
            max_sequence_length: 1_024,
            max_users: 5_000_000,
            max_categories: 100_000,
            max_category_memberships: 20_000_000,
            max_parity_cases: 1_000,
            max_files: 64,
            max_manifest_bytes: 4 * MIB,
            max_file_bytes: 768 * MIB,
            max_bundle_bytes: 1_536 * MIB,
        }
    }
}

/// Which limit a bundle exceeded; each has its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Items,
    Dim,
    SequenceLength,
    Users,
    Categories,
    CategoryMemberships,
    ParityCases,
    Files,
    ManifestBytes,
    FileBytes,
    BundleBytes,
}

impl Limit {
    pub fn code(self) -> &'static str {
        match self {
            Self::Items => "bundle_too_many_items",
            Self::Dim => "bundle_dim_too_large",
            Self::SequenceLength => "bundle_sequence_too_long",
            Self::Users => "bundle_too_many_users",
            Self::Categories => "bundle_too_many_categories",
            Self::CategoryMemberships => "bundle_too_many_memberships",
            Self::ParityCases => "bundle_too_many_parity_cases",
            Self::Files => "bundle_too_many_files",
            Self::ManifestBytes => "bundle_manifest_too_large",
            Self::FileBytes => "bundle_file_too_large",
            Self::BundleBytes => "bundle_too_large",
        }
    }

    /// The option name, as `EdgeRec.open({ limits })` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Items => "maxItems",
            Self::Dim => "maxDim",
            Self::SequenceLength => "maxSequenceLength",
            Self::Users => "maxUsers",
            Self::Categories => "maxCategories",
            Self::CategoryMemberships => "maxCategoryMemberships",
            Self::ParityCases => "maxParityCases",
            Self::Files => "maxFiles",
            Self::ManifestBytes => "maxManifestBytes",
            Self::FileBytes => "maxFileBytes",
            Self::BundleBytes => "maxBundleBytes",
        }
    }
}

impl Limits {
    pub fn of(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Items => self.max_items,
            Limit::Dim => self.max_dim,
            Limit::SequenceLength => self.max_sequence_length,
            Limit::Users => self.max_users,
            Limit::Categories => self.max_categories,
            Limit::CategoryMemberships => self.max_category_memberships,
            Limit::ParityCases => self.max_parity_cases,
            Limit::Files => self.max_files,
            Limit::ManifestBytes => self.max_manifest_bytes,
            Limit::FileBytes => self.max_file_bytes,
            Limit::BundleBytes => self.max_bundle_bytes,
        }
    }

    /// `Ok` when `value` is within `limit`; otherwise the violation, naming `what`.
    pub fn check(&self, limit: Limit, what: &str, value: u64) -> Result<(), LimitExceeded> {
        let max = self.of(limit);
        if value > max {
            return Err(LimitExceeded { limit, what: what.to_owned(), value, max });
        }
        Ok(())
    }
}

/// A bundle asked for more than a limit allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {value}, above the limit {name} = {max}", name = limit.name())]
pub struct LimitExceeded {
    pub limit: Limit,
    pub what: String,
    pub value: u64,
    pub max: u64,
}
