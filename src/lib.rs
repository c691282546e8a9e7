//! edgerec: an in-browser recommendation engine.
//!
//! The core (`catalog`, `bundle`, `kernel`, `models`, `engine`) is plain Rust
//! and knows nothing of JavaScript; `wasm` is the only module that does.
//!
//! ```text
//! bundle bytes ──> Bundle (verified) ──> Engine ──> encoders (models) ──> kernel (scan + top-k)
//! ```

pub mod bundle;
pub mod catalog;
pub mod engine;
pub mod eval;
pub mod kernel;
pub mod models;
pub mod rules;
pub mod shards;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use bundle::{Bundle, BundleError, BundleFiles};
pub use engine::{Engine, EngineError, Ranking, Recommendation, Recommendations};
