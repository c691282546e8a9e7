//! The catalog: stable string item ids (SKUs) <-> dense row indices, with the
//! title and categories shown to shoppers. Matrices are indexed by row; the
//! outside world only ever sees ids.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bundle::{Limit, LimitExceeded, Limits};

#[derive(Debug, Error, PartialEq)]
pub enum CatalogError {
    #[error("catalog lists item id {id:?} twice")]
    DuplicateId { id: String },
    #[error("catalog has an item with an empty id at position {position}")]
    EmptyId { position: usize },
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

/// One catalog entry as stored in the bundle's `catalog.json`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub categories: Vec<String>,
    /// The shop's other fields (price, brand, available, ...), typed as the
    /// catalog file has them: strings, numbers, booleans.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    items: Vec<Item>,
    index_of: HashMap<String, usize>,
    category_names: Vec<String>,
    slot_of: HashMap<String, usize>,
    /// For each category (same order as `category_names`), its items' rows in
    /// increasing order: memory grows with memberships, not items × categories.
    category_members: Vec<Vec<u32>>,
}

impl Catalog {
    /// Indexes `items`; their count must already be within `limits.max_items`.
    pub fn new(items: Vec<Item>, limits: &Limits) -> Result<Self, CatalogError> {
        let memberships = items.iter().map(|item| item.categories.len() as u64).sum();
        limits.check(Limit::CategoryMemberships, "the number of item categories", memberships)?;
        let mut index_of = HashMap::with_capacity(items.len());
        let mut category_names: Vec<String> = Vec::new();
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        let mut category_members: Vec<Vec<u32>> = Vec::new();
        for (position, item) in items.iter().enumerate() {
            if item.id.is_empty() {
                return Err(CatalogError::EmptyId { position });
            }
            if index_of.insert(item.id.clone(), position).is_some() {
                return Err(CatalogError::DuplicateId { id: item.id.clone() });
            }
            for category in &item.categories {
                let slot = match slot_of.get(category) {
                    Some(&slot) => slot,
                    None => {
                        let slot = category_names.len();
                        limits.check(Limit::Categories, "the number of categories", slot as u64 + 1)?;
                        category_names.push(category.clone());
                        slot_of.insert(category.clone(), slot);
                        category_members.push(Vec::new());
                        slot
                    }
                };
                let members = &mut category_members[slot];
                // Rows arrive in order; an item naming a category twice is one member.
                let row = position as u32;
                if members.last() != Some(&row) {
                    members.push(row);
                }
            }
        }
        Ok(Self { items, index_of, category_names, slot_of, category_members })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index_of.get(id).copied()
    }

    pub fn item(&self, index: usize) -> &Item {
        &self.items[index]
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Category names in order of first appearance in the catalog.
    pub fn categories(&self) -> &[String] {
        &self.category_names
    }

    /// The rows of the items in `category`, in increasing order.
    pub fn members_of(&self, category: &str) -> Option<Members<'_>> {
        let slot = *self.slot_of.get(category)?;
        Some(Members(&self.category_members[slot]))
    }
}

/// The items of one category.
#[derive(Debug, Clone, Copy)]
pub struct Members<'a>(&'a [u32]);

impl<'a> Members<'a> {
    pub fn contains(&self, row: usize) -> bool {
        u32::try_from(row).is_ok_and(|row| self.0.binary_search(&row).is_ok())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rows, in increasing order.
    pub fn rows(self) -> impl Iterator<Item = usize> + 'a {
        self.0.iter().map(|&row| row as usize)
    }
}
