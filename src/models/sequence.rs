//! "Next up": an LSTM over the shopper's item history, an ONNX model run by
//! tract. Its final hidden state is the query; the shared kernel scores it
//! against the output item matrix.
//!
//! Encoder contract (see docs/bundle-format.md): input `int64 [1, max_len]`
//! holding catalog index + 1, left-padded with 0 (most recent item last);
//! output `f32 [1, dim]`.
//!
//! Built only with the `next-up` feature; the core build (without tract)
//! has a `SequenceModel` type with no values, so no encoder is ever loaded.

#[cfg(feature = "next-up")]
use std::io::Cursor;
#[cfg(feature = "next-up")]
use std::sync::Arc;

use thiserror::Error;
#[cfg(feature = "next-up")]
use tract_onnx::prelude::*;

use crate::kernel::Hit;
#[cfg(feature = "next-up")]
use crate::kernel::{search, ItemMatrix};

#[derive(Debug, Error)]
pub enum SequenceError {
    #[error("the ONNX encoder could not be loaded: {reason}")]
    Load { reason: String },
    #[error("the ONNX encoder outputs {found} values, the item matrix has {expected} columns")]
    OutputSize { expected: usize, found: usize },
    #[error("the ONNX encoder failed to run: {reason}")]
    Run { reason: String },
    #[error("max_len must be at least 1")]
    ZeroMaxLen,
    #[error("the encoder's embedding table has {rows} rows; the catalog needs {needed} (item index + 1)")]
    TableTooSmall { rows: usize, needed: usize },
}

/// The core build's stand-in: no encoder can be loaded, so there is no value.
#[cfg(not(feature = "next-up"))]
pub enum SequenceModel {}

#[cfg(not(feature = "next-up"))]
impl SequenceModel {
    pub fn next_up(
        &self,
        _: &[usize],
        _: usize,
        _: impl Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, SequenceError> {
        match *self {}
    }

    pub fn scores(&self, _: &[usize]) -> Result<Vec<f32>, SequenceError> {
        match *self {}
    }
}

/// Whether this build runs next-up encoders (the `next-up` feature).
pub const ENCODERS_BUILT_IN: bool = cfg!(feature = "next-up");

#[cfg(feature = "next-up")]
pub struct SequenceModel {
    plan: Arc<TypedRunnableModel>,
    items: ItemMatrix,
    max_len: usize,
}

#[cfg(feature = "next-up")]
impl SequenceModel {
    /// Parses, shapes and optimises the encoder once, and checks that its
    /// output fits the item matrix by running it on an all-padding input.
    pub fn new(onnx: &[u8], items: ItemMatrix, max_len: usize) -> Result<Self, SequenceError> {
        if max_len == 0 {
            return Err(SequenceError::ZeroMaxLen);
        }
        let load = |e: TractError| SequenceError::Load { reason: format!("{e:#}") };
        let framework = tract_onnx::onnx();
        let proto = framework.proto_model_for_read(&mut Cursor::new(onnx)).map_err(load)?;
        check_encoder_graph(&proto)?;
        let typed = framework
            .model_for_proto_model(&proto)
            .and_then(|model| model.with_input_fact(0, i64::fact([1, max_len]).into()))
            .and_then(|model| model.into_typed())
            .map_err(load)?;
        check_gathered_tables(&typed, items.rows() + 1)?;
        let plan = typed.into_optimized().and_then(|model| model.into_runnable()).map_err(load)?;
        let model = Self { plan, items, max_len };
        let probe = model.query(&[])?;
        if probe.len() != model.items.cols() {
            return Err(SequenceError::OutputSize { expected: model.items.cols(), found: probe.len() });
        }
        Ok(model)
    }

    /// The encoder's query vector for a history of item rows (oldest first);
    /// only the last `max_len` items are used.
    pub fn query(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        let recent = &history[history.len().saturating_sub(self.max_len)..];
        let mut tokens = vec![0i64; self.max_len - recent.len()];
        tokens.extend(recent.iter().map(|&i| i as i64 + 1));
        let run = |e: TractError| SequenceError::Run { reason: format!("{e:#}") };
        let input = Tensor::from_shape(&[1, self.max_len], &tokens).map_err(run)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(run)?;
        let query = outputs[0].to_plain_array_view::<f32>().map_err(run)?;
        Ok(query.iter().copied().collect())
    }

    /// Best `k` next items after `history`; `keep` filters candidates.
    pub fn next_up(
        &self,
        history: &[usize],
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, SequenceError> {
        Ok(search(&self.items, &self.finite_query(history)?, k, keep))
    }

    /// The score of every item after `history`.
    pub fn scores(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        Ok(self.items.scores(&self.finite_query(history)?))
    }

    fn finite_query(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        let query = self.query(history)?;
        match query.iter().find(|v| !v.is_finite()) {
            Some(bad) => {
                Err(SequenceError::Run { reason: format!("the encoder produced a non-finite value ({bad})") })
            }
            None => Ok(query),
        }
    }
}

/// The operators an encoder may use: what the exporter writes (Gather,
/// Transpose, LSTM, Squeeze) and a few shape-only neighbours. tract's ONNX
/// importer panics (a trap in wasm) on some malformed graphs instead of
/// returning an error (a `Reduce*` axis out of range, found by fuzzing), so a
/// bundle's graph is held to this small subset, with no subgraphs, and every
/// graph output must be produced by something in the graph.
#[cfg(feature = "next-up")]
const ENCODER_OPS: &[&str] = &["Gather", "Transpose", "LSTM", "Squeeze", "Unsqueeze", "Cast", "Identity"];

#[cfg(feature = "next-up")]
fn check_encoder_graph(proto: &tract_onnx::pb::ModelProto) -> Result<(), SequenceError> {
    let bad = |reason: String| SequenceError::Load { reason };
    let graph = proto.graph.as_ref().ok_or_else(|| bad("the ONNX model has no graph".into()))?;
    let mut produced: std::collections::HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    produced.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        if !ENCODER_OPS.contains(&node.op_type.as_str()) || !node.domain.is_empty() {
            return Err(bad(format!(
                "operator {:?} is not one an encoder may use ({})",
                node.op_type,
                ENCODER_OPS.join(", ")
            )));
        }
        if node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()) {
            return Err(bad(format!("operator {:?} carries a subgraph", node.op_type)));
        }
        produced.extend(node.output.iter().map(String::as_str));
    }
    if let Some(output) = graph.output.iter().find(|o| !produced.contains(o.name.as_str())) {
        return Err(bad(format!("graph output {:?} is produced by nothing in the graph", output.name)));
    }
    Ok(())
}

/// tract's Gather does not bounds-check its indices (an index past the table
/// panics), so every table gathered by the history (catalog index + 1, from 0
/// for padding to the item count) must have at least `needed` rows, checked
/// here before the encoder ever runs.
#[cfg(feature = "next-up")]
fn check_gathered_tables(model: &TypedModel, needed: usize) -> Result<(), SequenceError> {
    let mut from_history = std::collections::HashSet::new();
    for &node in &model.eval_order().map_err(|e| SequenceError::Load { reason: format!("{e:#}") })? {
        let node = model.node(node);
        let fed = node.inputs.iter().any(|input| from_history.contains(&input.node));
        if model.input_outlets().is_ok_and(|inputs| inputs.iter().any(|o| o.node == node.id)) || fed {
            from_history.insert(node.id);
        }
        let Some(gather) = node.op_as::<tract_onnx::tract_core::ops::array::Gather>() else { continue };
        let (Some(table), Some(indices)) = (node.inputs.first(), node.inputs.get(1)) else { continue };
        if !from_history.contains(&indices.node) || from_history.contains(&table.node) {
            continue;
        }
        let fact = model.outlet_fact(*table).map_err(|e| SequenceError::Load { reason: format!("{e:#}") })?;
        let rows = fact.shape.get(gather.axis).and_then(|d| d.as_i64()).and_then(|d| usize::try_from(d).ok());
        match rows {
            Some(rows) if rows >= needed => {}
            Some(rows) => return Err(SequenceError::TableTooSmall { rows, needed }),
            None => {
                return Err(SequenceError::Load {
                    reason: "a table gathered by the history has no fixed size".into(),
                })
            }
        }
    }
    Ok(())
}
