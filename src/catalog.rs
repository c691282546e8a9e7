//! The catalog: stable string item ids (SKUs) <-> dense row indices, with the
//! title and categories shown to shoppers. Matrices are indexed by row; the
//! outside world only ever sees ids.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum CatalogError {
    #[error("catalog lists item id {id:?} twice")]
    DuplicateId { id: String },
    #[error("catalog has an item with an empty id at position {position}")]
    EmptyId { position: usize },
}

/// One catalog entry as stored in the bundle's `catalog.json`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub categories: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    items: Vec<Item>,
    index_of: HashMap<String, usize>,
    category_names: Vec<String>,
    /// For each category (same order as `category_names`), one flag per item.
    category_members: Vec<Vec<bool>>,
}

impl Catalog {
    pub fn new(items: Vec<Item>) -> Result<Self, CatalogError> {
        let mut index_of = HashMap::with_capacity(items.len());
        let mut category_names: Vec<String> = Vec::new();
        let mut category_members: Vec<Vec<bool>> = Vec::new();
        for (position, item) in items.iter().enumerate() {
            if item.id.is_empty() {
                return Err(CatalogError::EmptyId { position });
            }
            if index_of.insert(item.id.clone(), position).is_some() {
                return Err(CatalogError::DuplicateId { id: item.id.clone() });
            }
            for category in &item.categories {
                let slot = match category_names.iter().position(|c| c == category) {
                    Some(slot) => slot,
                    None => {
                        category_names.push(category.clone());
                        category_members.push(vec![false; items.len()]);
                        category_names.len() - 1
                    }
                };
                category_members[slot][position] = true;
            }
        }
        Ok(Self { items, index_of, category_names, category_members })
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

    /// One flag per item: true where the item belongs to `category`.
    pub fn members_of(&self, category: &str) -> Option<&[bool]> {
        let slot = self.category_names.iter().position(|c| c == category)?;
        Some(&self.category_members[slot])
    }
}
