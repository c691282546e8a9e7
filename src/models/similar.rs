//! "Similar items": cosine similarity over item embeddings. Rows are
//! L2-normalised once at load, so the query is just the item's own row.

use crate::kernel::{search, Hit, ItemMatrix};

#[derive(Debug, Clone)]
pub struct SimilarItems {
    unit_rows: ItemMatrix,
}

impl SimilarItems {
    pub fn new(embeddings: &ItemMatrix) -> Self {
        Self { unit_rows: embeddings.normalised_rows() }
    }

    /// The `k` items most similar to `item`, never `item` itself, restricted
    /// to items `keep` accepts.
    pub fn similar(&self, item: usize, k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
        search(&self.unit_rows, &self.query(item), k, |i| i != item && keep(i))
    }

    /// The query for items like `item`: its own unit row.
    pub fn query(&self, item: usize) -> Vec<f32> {
        self.unit_rows.row(item)
    }

    /// The unit rows the query is scored against.
    pub fn items(&self) -> &ItemMatrix {
        &self.unit_rows
    }
}
