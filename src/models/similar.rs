//! "Similar items": cosine similarity over item embeddings. Rows are
//! L2-normalised once at load, so the query is usually the item's own row.

use crate::kernel::{search, Hit, ItemMatrix, RowSet};

#[derive(Debug, Clone)]
pub struct SimilarItems {
    unit_rows: ItemMatrix,
    content_queries: Option<ContentQueries>,
}

/// Items whose rows end in content columns and that no one has bought: their
/// collaborative columns are only predicted from their content, so they query
/// with the content columns alone.
#[derive(Debug, Clone)]
struct ContentQueries {
    first_column: usize,
    items: RowSet,
}

impl SimilarItems {
    pub fn new(embeddings: ItemMatrix) -> Self {
        Self { unit_rows: embeddings.normalised_rows(), content_queries: None }
    }

    /// As [`Self::new`], where the last `content_columns` of each row describe
    /// the item's content and `unbought` lists the items with no events.
    pub fn with_content(embeddings: ItemMatrix, content_columns: usize, unbought: RowSet) -> Self {
        let cols = embeddings.cols();
        let content_queries = (content_columns > 0 && content_columns < cols)
            .then(|| ContentQueries { first_column: cols - content_columns, items: unbought });
        Self { unit_rows: embeddings.normalised_rows(), content_queries }
    }

    /// The `k` items most similar to `item`, never `item` itself, restricted
    /// to items `keep` accepts.
    pub fn similar(&self, item: usize, k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
        search(&self.unit_rows, &self.query(item), k, |i| i != item && keep(i))
    }

    /// The query for items like `item`: its own unit row, or for an item no
    /// one has bought, the content part of it, unit length (kept whole if that
    /// part is empty).
    pub fn query(&self, item: usize) -> Vec<f32> {
        self.query_row(item, item)
    }

    /// [`Self::query`] in a shard of a split version: catalog item `item`
    /// is row `row` of the rows it holds.
    pub fn query_row(&self, item: usize, row: usize) -> Vec<f32> {
        let mut row = self.unit_rows.row(row);
        if let Some(content) = self.content_queries.as_ref().filter(|c| c.items.contains(item)) {
            let norm = row[content.first_column..].iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row[..content.first_column].fill(0.0);
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        row
    }

    /// The unit rows the query is scored against.
    pub fn items(&self) -> &ItemMatrix {
        &self.unit_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Matrix;

    /// Two collaborative columns, then two content columns.
    fn shop() -> ItemMatrix {
        let rows = [
            [0.0, 1.0, 0.0, 1.0], // 0: bought; content like 3's
            [1.0, 0.0, 1.0, 0.0], // 1: bought; cf like 3's predicted one
            [0.0, 1.0, 1.0, 0.0], // 2: bought
            [1.0, 0.0, 0.0, 0.8], // 3: no one bought it
        ];
        Matrix::new(4, 4, rows.concat()).unwrap().into()
    }

    #[test]
    fn an_unbought_item_queries_with_its_content_columns_alone() {
        let first = |model: &SimilarItems| model.similar(3, 1, |_| true)[0].index;
        let model = SimilarItems::with_content(shop(), 2, RowSet::new([3]));
        let query = model.query(3);
        assert_eq!(&query[..2], &[0.0, 0.0]);
        let norm: f32 = query.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);
        assert_eq!(first(&model), 0, "by content alone, item 0 is nearest");
        assert_eq!(first(&SimilarItems::new(shop())), 1, "by the whole row it would be item 1");
        // A bought item keeps its whole row.
        assert_eq!(model.query(0), SimilarItems::new(shop()).query(0));
    }

    #[test]
    fn without_content_columns_every_item_queries_with_its_row() {
        let plain = SimilarItems::new(shop());
        let none = SimilarItems::with_content(shop(), 0, RowSet::new([3]));
        assert_eq!(none.query(3), plain.query(3));
    }
}
