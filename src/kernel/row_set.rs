//! A set of item rows, for exclusions such as "already seen".

/// Sorted, distinct rows: membership is a binary search, no hashing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowSet(Vec<usize>);

impl RowSet {
    pub fn new(rows: impl IntoIterator<Item = usize>) -> Self {
        let mut rows: Vec<usize> = rows.into_iter().collect();
        rows.sort_unstable();
        rows.dedup();
        Self(rows)
    }

    pub fn contains(&self, row: usize) -> bool {
        self.0.binary_search(&row).is_ok()
    }

    pub fn rows(&self) -> &[usize] {
        &self.0
    }
}
