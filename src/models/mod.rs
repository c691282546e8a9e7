//! Encoders: each turns a question into a query vector for the kernel.

pub mod factors;
pub mod search;
pub mod sequence;
pub mod similar;

pub use factors::{FactorModel, FoldInError};
pub use search::{Match, TextIndex};
pub use sequence::{Encoding, SequenceError, SequenceModel, ENCODERS_BUILT_IN};
pub use similar::SimilarItems;
