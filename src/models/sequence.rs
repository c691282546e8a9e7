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
use std::sync::{Arc, Mutex};

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

    pub fn checked_query(&self, _: &[usize]) -> Result<Vec<f32>, SequenceError> {
        match *self {}
    }

    pub fn items(&self) -> &crate::kernel::ItemMatrix {
        match *self {}
    }
}

/// Whether this build runs next-up encoders (the `next-up` feature).
pub const ENCODERS_BUILT_IN: bool = cfg!(feature = "next-up");

#[cfg(feature = "next-up")]
pub struct SequenceModel {
    /// history -> query, and the LSTM's final (h, c) when `step` is there.
    plan: Session,
    /// One LSTM step from a given state, for histories that grow by a click.
    step: Option<StepPlan>,
    /// The exporter's item table, taken out of the graph (see [`ItemTable`]);
    /// the plans then take the history's rows instead of its tokens.
    table: Option<ItemTable>,
    items: ItemMatrix,
    max_len: usize,
    /// The whole-history plan takes any length, so a short history runs
    /// without the padding steps that would not move the state (the step
    /// plan's `settled_after` says how many do).
    unpadded: bool,
    /// The last history encoded (its newest `max_len` rows) and its state.
    last: Mutex<Option<Encoded>>,
}

#[cfg(feature = "next-up")]
struct StepPlan {
    plan: Session,
    hidden: usize,
    /// Padding steps after which the state no longer moves (by 1e-7): a
    /// history with at least this many left is encoded the same with one
    /// padding step fewer, which is what a step from a cached state skips.
    settled_after: usize,
}

/// The model optimised into a plan whose every run starts from its inputs
/// alone: a scan (the LSTM) otherwise carries its state from one run of a
/// kept [`Session`] to the next, as a streaming model would want. (A scan of
/// one step, the click plan's, is then inlined: no scan is left to run.)
#[cfg(feature = "next-up")]
fn runnable(mut model: TypedModel) -> TractResult<Arc<TypedRunnableModel>> {
    use tract_onnx::tract_core::ops::scan::Scan;
    for node in &mut model.nodes {
        if let Some(scan) = node.op_as::<Scan>() {
            node.op = Box::new(Scan { reset_every_turn: true, ..scan.clone() });
        }
    }
    model.into_optimized()?.into_runnable()
}

/// A plan and one running state of it, kept between calls: spawning a state
/// (the LSTM's scan body included) costs more than a one-step run.
#[cfg(feature = "next-up")]
struct Session {
    plan: Arc<TypedRunnableModel>,
    state: Mutex<TypedSimpleState>,
}

#[cfg(feature = "next-up")]
impl Session {
    fn new(plan: Arc<TypedRunnableModel>) -> Result<Self, SequenceError> {
        let state = plan.spawn().map_err(|e| SequenceError::Load { reason: format!("{e:#}") })?;
        Ok(Self { plan, state: Mutex::new(state) })
    }

    fn run(&self, inputs: TVec<TValue>) -> Result<TVec<TValue>, SequenceError> {
        // A poisoned lock only means a panic elsewhere; the state is replaced after any failure.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = state.run(inputs);
        if outputs.is_err() {
            // A failed run may leave values of its turn behind: start the next one afresh.
            *state = self.plan.spawn().map_err(run_error)?;
        }
        outputs.map_err(run_error)
    }
}

/// What [`SequenceModel::build`] may do for the exporter's graph; each
/// changes no answer (tested).
#[cfg(feature = "next-up")]
#[derive(Clone, Copy)]
struct Shortcuts {
    /// Take the item table out of the graph: the engine gathers the rows.
    own_table: bool,
    /// Encode a history without the padding steps that do not move the state.
    skip_padding: bool,
}

#[cfg(feature = "next-up")]
impl Shortcuts {
    const ALL: Self = Self { own_table: true, skip_padding: true };
}

#[cfg(feature = "next-up")]
struct Encoded {
    rows: Vec<usize>,
    query: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
}

/// How the last query was computed (for tests and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The whole history through the encoder.
    Full,
    /// One LSTM step per item added since the last history.
    Steps(usize),
    /// The same history as last time.
    Cached,
}

#[cfg(feature = "next-up")]
impl SequenceModel {
    /// Parses, shapes and optimises the encoder once, and checks that its
    /// output fits the item matrix by running it on an all-padding input.
    /// When the graph is the exporter's (one forward LSTM whose final hidden
    /// state is the query), it also builds a one-step plan for clicks.
    pub fn new(onnx: &[u8], items: ItemMatrix, max_len: usize) -> Result<Self, SequenceError> {
        let item_count = items.rows();
        Self::build(onnx, items, item_count, max_len, Shortcuts::ALL)
    }

    /// [`Self::new`] for shard 0 of a split version: `items` holds its rows
    /// of the item matrix, the encoder reads any of the `item_count` items.
    pub fn for_shard(
        onnx: &[u8],
        items: ItemMatrix,
        item_count: usize,
        max_len: usize,
    ) -> Result<Self, SequenceError> {
        Self::build(onnx, items, item_count, max_len, Shortcuts::ALL)
    }

    /// [`Self::new`], with the shortcuts the exporter's graph allows (all of
    /// them, except to test that one changes no answer).
    fn build(
        onnx: &[u8],
        items: ItemMatrix,
        item_count: usize,
        max_len: usize,
        shortcuts: Shortcuts,
    ) -> Result<Self, SequenceError> {
        if max_len == 0 {
            return Err(SequenceError::ZeroMaxLen);
        }
        let load = |e: TractError| SequenceError::Load { reason: format!("{e:#}") };
        let framework = tract_onnx::onnx();
        let mut proto = framework.proto_model_for_read(&mut Cursor::new(onnx)).map_err(load)?;
        check_encoder_graph(&proto)?;
        // The graph is edited in place, never copied: its item table can be
        // hundreds of MB, and wasm memory never shrinks.
        let hidden = add_state_outputs(&mut proto);
        let table = hidden.filter(|_| shortcuts.own_table).and_then(|_| ItemTable::take_from(&mut proto));
        if let Some(table) = &table {
            if table.rows < item_count + 1 {
                return Err(SequenceError::TableTooSmall { rows: table.rows, needed: item_count + 1 });
            }
        }
        let input_fact = |len: TDim| -> InferenceFact {
            match &table {
                Some(table) => f32::fact([1.to_dim(), len, table.width.to_dim()]).into(),
                None => i64::fact([1.to_dim(), len]).into(),
            }
        };
        // The exporter's graph takes a history of any length (see `unpadded`).
        let unpadded = hidden.is_some() && shortcuts.skip_padding;
        let typed = framework
            .model_for_proto_model(&proto)
            .and_then(|model| {
                let len = if unpadded { model.symbols.sym("S").to_dim() } else { max_len.to_dim() };
                model.with_input_fact(0, input_fact(len))
            })
            .and_then(|model| model.into_typed())
            .map_err(load)?;
        check_gathered_tables(&typed, item_count + 1)?;
        let plan = Session::new(runnable(typed).map_err(load)?)?;
        let step = match hidden {
            Some(hidden) => {
                into_step_graph(&mut proto, hidden);
                let typed = framework
                    .model_for_proto_model(&proto)
                    .and_then(|model| model.with_input_fact(0, input_fact(1.to_dim())))
                    .and_then(|model| model.with_input_fact(1, f32::fact([1, 1, hidden]).into()))
                    .and_then(|model| model.with_input_fact(2, f32::fact([1, 1, hidden]).into()))
                    .and_then(|model| model.into_typed())
                    .map_err(load)?;
                check_gathered_tables(&typed, item_count + 1)?;
                let plan = Session::new(runnable(typed).map_err(load)?)?;
                Some(StepPlan { plan, hidden, settled_after: usize::MAX })
            }
            None => None,
        };
        let mut model = Self { plan, step, table, items, max_len, unpadded, last: Mutex::new(None) };
        let probe = model.encode_full(&[])?;
        if probe.query.len() != model.items.cols() {
            return Err(SequenceError::OutputSize { expected: model.items.cols(), found: probe.query.len() });
        }
        if let Some(settled_after) = model.padding_settles()? {
            if let Some(step) = model.step.as_mut() {
                step.settled_after = settled_after;
            }
        } else {
            model.step = None;
        }
        Ok(model)
    }

    /// The encoder's query vector for a history of item rows (oldest first);
    /// only the last `max_len` items are used. A history that extends the
    /// last one by a few items costs a few LSTM steps instead of a full run,
    /// when that gives the full run's answer (see [`StepPlan::settled_after`]).
    pub fn query(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        Ok(self.query_and_encoding(history)?.0)
    }

    /// The query and how it was computed.
    pub fn query_and_encoding(&self, history: &[usize]) -> Result<(Vec<f32>, Encoding), SequenceError> {
        let recent = &history[history.len().saturating_sub(self.max_len)..];
        let Some(step) = &self.step else { return Ok((self.encode_full(recent)?.query, Encoding::Full)) };
        // A poisoned lock only means a panic elsewhere: the cache is still whole.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match last.as_mut() {
            Some(prev) if prev.rows == recent => (prev.query.clone(), Encoding::Cached),
            Some(prev)
                if recent.len() > prev.rows.len()
                    && recent.starts_with(&prev.rows)
                    && self.max_len - recent.len() >= step.settled_after =>
            {
                // The cached state moves one step per new item, so it always
                // matches its rows, even if a step fails.
                let added = recent.len() - prev.rows.len();
                for &row in &recent[prev.rows.len()..] {
                    (prev.query, prev.h, prev.c) = self.run_step(step, &prev.h, &prev.c, row as i64 + 1)?;
                    prev.rows.push(row);
                }
                (prev.query.clone(), Encoding::Steps(added))
            }
            _ => {
                let encoded = self.encode_full(recent)?;
                let query = encoded.query.clone();
                *last = Some(encoded);
                (query, Encoding::Full)
            }
        })
    }

    /// The whole history (at most `max_len` rows) through the encoder.
    fn encode_full(&self, recent: &[usize]) -> Result<Encoded, SequenceError> {
        let tokens = self.whole_tokens(recent);
        let outputs = self.plan.run(tvec!(self.history_input(&tokens)?.into_tvalue()))?;
        // (h, c) are there only when the step plan is.
        let values = |i: usize| -> Result<Vec<f32>, SequenceError> {
            match outputs.get(i) {
                Some(output) => {
                    Ok(output.to_plain_array_view::<f32>().map_err(run_error)?.iter().copied().collect())
                }
                None => Ok(Vec::new()),
            }
        };
        Ok(Encoded { rows: recent.to_vec(), query: values(0)?, h: values(1)?, c: values(2)? })
    }

    /// What a whole encode runs: the padding (all of it up to `max_len`, or
    /// only the steps that still move the state), then the rows + 1.
    fn whole_tokens(&self, recent: &[usize]) -> Vec<i64> {
        let mut pads = self.max_len - recent.len();
        if let (true, Some(step)) = (self.unpadded, &self.step) {
            // At least one token: a scan of no steps is not a run.
            pads = pads.min(step.settled_after).max(usize::from(recent.is_empty()));
        }
        let mut tokens = vec![0i64; pads];
        tokens.extend(recent.iter().map(|&i| i as i64 + 1));
        tokens
    }

    /// One LSTM step from (h, c) on `token` (catalog row + 1; 0 pads):
    /// the query and the new (h, c).
    #[allow(clippy::type_complexity)]
    fn run_step(
        &self,
        step: &StepPlan,
        h: &[f32],
        c: &[f32],
        token: i64,
    ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>), SequenceError> {
        let token = self.history_input(&[token])?;
        let h = Tensor::from_shape(&[1, 1, step.hidden], h).map_err(run_error)?;
        let c = Tensor::from_shape(&[1, 1, step.hidden], c).map_err(run_error)?;
        let outputs = step.plan.run(tvec!(token.into_tvalue(), h.into_tvalue(), c.into_tvalue()))?;
        let values = |i: usize| -> Result<Vec<f32>, SequenceError> {
            Ok(outputs[i].to_plain_array_view::<f32>().map_err(run_error)?.iter().copied().collect())
        };
        Ok((values(0)?, values(1)?, values(2)?))
    }

    /// What the plans take for these tokens: the tokens themselves, or
    /// their rows of the table taken out of the graph.
    fn history_input(&self, tokens: &[i64]) -> Result<Tensor, SequenceError> {
        match &self.table {
            Some(table) => table.gather(tokens),
            None => Tensor::from_shape(&[1, tokens.len()], tokens).map_err(run_error),
        }
    }

    /// After how many padding steps from the zero state the state stops
    /// moving (every value within 1e-7 of the step before); None if it does
    /// not within `max_len` steps, or if there is no step plan.
    fn padding_settles(&self) -> Result<Option<usize>, SequenceError> {
        let Some(step) = &self.step else { return Ok(None) };
        let (mut h, mut c) = (vec![0.0; step.hidden], vec![0.0; step.hidden]);
        for pads in 1..=self.max_len {
            let (_, next_h, next_c) = self.run_step(step, &h, &c, 0)?;
            let moved = next_h.iter().chain(&next_c).zip(h.iter().chain(&c)).map(|(a, b)| (a - b).abs());
            if moved.fold(0.0f32, f32::max) <= 1e-7 {
                return Ok(Some(pads - 1));
            }
            (h, c) = (next_h, next_c);
        }
        Ok(None)
    }

    /// Best `k` next items after `history`; `keep` filters candidates.
    pub fn next_up(
        &self,
        history: &[usize],
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, SequenceError> {
        Ok(search(&self.items, &self.checked_query(history)?, k, keep))
    }

    /// The score of every item after `history`.
    pub fn scores(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        Ok(self.items.scores(&self.checked_query(history)?))
    }

    /// The output item matrix queries are scored against.
    pub fn items(&self) -> &ItemMatrix {
        &self.items
    }

    /// [`Self::query`], refusing a query with a NaN or infinite value.
    pub fn checked_query(&self, history: &[usize]) -> Result<Vec<f32>, SequenceError> {
        let query = self.query(history)?;
        match query.iter().find(|v| !v.is_finite()) {
            Some(bad) => {
                Err(SequenceError::Run { reason: format!("the encoder produced a non-finite value ({bad})") })
            }
            None => Ok(query),
        }
    }
}

#[cfg(feature = "next-up")]
fn run_error(e: TractError) -> SequenceError {
    SequenceError::Run { reason: format!("{e:#}") }
}

/// For the exporter's graph (one forward LSTM, no initial state or lengths
/// given, whose final hidden state is squeezed into the graph's only output):
/// adds the LSTM's final (h, c) as two more outputs and returns the hidden
/// size. Leaves any other graph as it is and returns None: it is always run
/// whole.
#[cfg(feature = "next-up")]
fn add_state_outputs(proto: &mut tract_onnx::pb::ModelProto) -> Option<usize> {
    let graph = proto.graph.as_mut()?;
    let lstms: Vec<usize> = (0..graph.node.len()).filter(|&i| graph.node[i].op_type == "LSTM").collect();
    let [at] = lstms[..] else { return None };
    let lstm = &graph.node[at];
    let attribute = |name: &str| lstm.attribute.iter().find(|a| a.name == name);
    let forward = attribute("direction").is_none_or(|a| a.s == b"forward");
    let hidden = usize::try_from(attribute("hidden_size")?.i).ok().filter(|&h| h > 0)?;
    let y_h = lstm.output.get(1).filter(|name| !name.is_empty())?.clone();
    let squeezed = graph.node.iter().any(|n| {
        n.op_type == "Squeeze"
            && n.input.first() == Some(&y_h)
            && graph.output.len() == 1
            && n.output.first() == Some(&graph.output[0].name)
    });
    if !forward || lstm.input.len() > 4 || lstm.output.len() > 2 || graph.input.len() != 1 || !squeezed {
        return None;
    }
    let state_shape = state_value_shape(hidden);
    graph.node[at].output.push("edgerec_y_c".into());
    graph.output.push(f32_value(&y_h, &state_shape));
    graph.output.push(f32_value("edgerec_y_c", &state_shape));
    Some(hidden)
}

/// Turns the graph [`add_state_outputs`] made into the one-step graph
/// (`history [1, 1]`, `initial_h`, `initial_c` -> query, h, c).
#[cfg(feature = "next-up")]
fn into_step_graph(proto: &mut tract_onnx::pb::ModelProto, hidden: usize) {
    let Some(graph) = proto.graph.as_mut() else { return };
    let Some(lstm) = graph.node.iter_mut().find(|n| n.op_type == "LSTM") else { return };
    lstm.input.resize(4, String::new());
    lstm.input.extend(["".into(), "edgerec_initial_h".into(), "edgerec_initial_c".into()]);
    let state_shape = state_value_shape(hidden);
    graph.input.push(f32_value("edgerec_initial_h", &state_shape));
    graph.input.push(f32_value("edgerec_initial_c", &state_shape));
}

#[cfg(feature = "next-up")]
fn state_value_shape(hidden: usize) -> [i64; 3] {
    [1, 1, hidden as i64]
}

/// A graph input or output: an f32 tensor of fixed `dims`.
#[cfg(feature = "next-up")]
fn f32_value(name: &str, dims: &[i64]) -> tract_onnx::pb::ValueInfoProto {
    use tract_onnx::pb::{tensor_shape_proto, type_proto, TensorShapeProto, TypeProto, ValueInfoProto};
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1, // FLOAT
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The exporter's item table (`item_embedding`, f32 `[rows, width]`), moved
/// out of the graph: the engine gathers the history's rows itself, so the
/// table is held once, not once more in each of the two plans. The graph's
/// history input becomes the gathered rows (`f32 [1, len, width]`).
#[cfg(feature = "next-up")]
struct ItemTable {
    /// Little-endian f32 values, row-major: the initializer's bytes as read.
    bytes: Vec<u8>,
    rows: usize,
    width: usize,
}

#[cfg(feature = "next-up")]
impl ItemTable {
    /// Takes the table out of `proto` when the history input feeds exactly
    /// one node, a `Gather` (axis 0) from an f32 initializer of raw bytes
    /// that nothing else reads; else leaves `proto` as it is.
    fn take_from(proto: &mut tract_onnx::pb::ModelProto) -> Option<Self> {
        let graph = proto.graph.as_mut()?;
        let history = graph.input.first()?.name.clone();
        let readers: Vec<usize> =
            (0..graph.node.len()).filter(|&i| graph.node[i].input.contains(&history)).collect();
        let [at] = readers[..] else { return None };
        let gather = &graph.node[at];
        let axis = gather.attribute.iter().find(|a| a.name == "axis").map_or(0, |a| a.i);
        let [name, indices] = &gather.input[..] else { return None };
        let [gathered] = &gather.output[..] else { return None };
        if gather.op_type != "Gather" || axis != 0 || indices != &history {
            return None;
        }
        let (name, gathered) = (name.clone(), gathered.clone());
        let read_elsewhere = graph.node.iter().enumerate().any(|(i, n)| i != at && n.input.contains(&name));
        let index = graph.initializer.iter().position(|t| t.name == name)?;
        let init = &graph.initializer[index];
        let [rows, width] = init.dims[..] else { return None };
        let (rows, width) = (usize::try_from(rows).ok()?, usize::try_from(width).ok()?);
        let raw = init.data_type == 1 // FLOAT
            && init.data_location.unwrap_or(0) == 0
            && init.float_data.is_empty()
            && rows.checked_mul(width)?.checked_mul(4)? == init.raw_data.len();
        if read_elsewhere || !raw || width == 0 {
            return None;
        }
        let bytes = std::mem::take(&mut graph.initializer.swap_remove(index).raw_data);
        graph.node.remove(at);
        graph.input[0] = f32_value(&gathered, &[1, 1, width as i64]);
        Some(Self { bytes, rows, width })
    }

    /// Rows `tokens` as an `f32 [1, tokens.len(), width]` tensor, as the
    /// graph's `Gather` gave them.
    fn gather(&self, tokens: &[i64]) -> Result<Tensor, SequenceError> {
        let row_bytes = self.width * 4;
        let mut values = Vec::with_capacity(tokens.len() * self.width);
        for &token in tokens {
            let row = usize::try_from(token).ok().filter(|&row| row < self.rows).ok_or_else(|| {
                SequenceError::Run {
                    reason: format!("token {token} is outside the {} table rows", self.rows),
                }
            })?;
            let bytes = &self.bytes[row * row_bytes..(row + 1) * row_bytes];
            values.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        Tensor::from_shape(&[1, tokens.len(), self.width], &values).map_err(run_error)
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

#[cfg(all(test, feature = "next-up"))]
mod tests {
    use super::*;

    /// The committed demo bundle's encoder and next-up items.
    fn committed() -> (Vec<u8>, ItemMatrix) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/channel/ml-100k/versions/2/");
        let onnx = std::fs::read(format!("{dir}next_up.onnx")).unwrap();
        let items = std::fs::read(format!("{dir}next_up_items.f32")).unwrap();
        let matrix = crate::kernel::Matrix::from_le_bytes(1682, 64, &items).unwrap();
        (onnx, ItemMatrix::F32(matrix))
    }

    #[test]
    fn the_exporters_table_leaves_the_graph_and_no_query_changes() {
        let (onnx, items) = committed();
        let count = items.rows();
        let owned = SequenceModel::build(&onnx, items.clone(), count, 50, Shortcuts::ALL).unwrap();
        let in_graph =
            SequenceModel::build(&onnx, items, count, 50, Shortcuts { own_table: false, ..Shortcuts::ALL })
                .unwrap();
        assert_eq!(owned.table.as_ref().map(|t| (t.rows, t.width)), Some((1683, 65)));
        assert!(in_graph.table.is_none());
        // Whole encodes, then one click at a time (steps), up to past max_len.
        let history: Vec<usize> = (0..60).map(|i| (i * 37) % 1682).collect();
        for len in [1, 2, 7, 30, 49, 50, 51, 60] {
            let (a, how_a) = owned.query_and_encoding(&history[..len]).unwrap();
            let (b, how_b) = in_graph.query_and_encoding(&history[..len]).unwrap();
            assert_eq!(how_a, how_b, "length {len}");
            assert_eq!(a, b, "length {len}");
        }
    }

    #[test]
    fn a_history_encoded_without_its_padding_gets_the_padded_query() {
        let (onnx, items) = committed();
        let count = items.rows();
        let unpadded = SequenceModel::build(&onnx, items.clone(), count, 50, Shortcuts::ALL).unwrap();
        let padded = SequenceModel::build(
            &onnx,
            items,
            count,
            50,
            Shortcuts { skip_padding: false, ..Shortcuts::ALL },
        )
        .unwrap();
        assert!(unpadded.unpadded && !padded.unpadded);
        // tract's sigmoid leaves a trace of the padding in the state for a few steps.
        let settled_after = unpadded.step.as_ref().map(|step| step.settled_after);
        assert!(settled_after.is_some_and(|steps| steps < 10), "{settled_after:?}");
        let settled_after = settled_after.unwrap();
        let history: Vec<usize> = (0..60).map(|i| (i * 53 + 11) % 1682).collect();
        let mut largest = 0f32;
        for len in [0usize, 1, 2, 3, 7, 20, 30, 49, 50, 51, 60] {
            let recent = &history[len.saturating_sub(50)..len];
            // The padding really is skipped: the history's own steps and at
            // most the padding steps that still move the state (one for an
            // empty history), where the padded plan always runs 50.
            let runs = unpadded.whole_tokens(recent).len();
            assert!(
                runs >= recent.len().max(1) && runs <= recent.len() + settled_after.max(1),
                "length {len}: {runs}"
            );
            assert!(recent.len() + settled_after >= 50 || runs < 50, "length {len}: {runs} steps");
            assert_eq!(padded.whole_tokens(recent).len(), 50, "length {len}");
            // Whole encodes only: a fresh history each time.
            let a = unpadded.encode_full(recent).unwrap();
            let b = padded.encode_full(recent).unwrap();
            for (x, y) in a.query.iter().chain(&a.h).chain(&a.c).zip(b.query.iter().chain(&b.h).chain(&b.c)) {
                largest = largest.max((x - y).abs());
            }
        }
        assert!(largest <= 1e-5, "largest difference {largest:e}");
    }
}
