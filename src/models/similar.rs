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
        let query = self.unit_rows.row(item);
        search(&self.unit_rows, &query, k, |i| i != item && keep(i))
    }
}
