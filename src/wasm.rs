//! wasm-bindgen bindings: the only module that talks to JavaScript.
//!
//! It converts JS values to Rust types, delegates to the core [`crate::Engine`]
//! and converts results and errors back. No logic lives here. Every error
//! becomes a thrown JS `Error` with a stable `code`; bad input never panics.

use std::cell::RefCell;

use js_sys::{Array, Float32Array, Map, Object, Reflect, Uint32Array, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::bundle::{BundleFiles, Limits, LoadOptions, PublicKey};
use crate::engine::{id_strs, Engine as CoreEngine, EngineError, Ranked};
use crate::kernel::{self, Hit, ItemMatrix};
use crate::rules::Rules;

thread_local! {
    static PANIC_HANDLER: std::cell::RefCell<Option<js_sys::Function>> = const { std::cell::RefCell::new(None) };
}

/// Reports a Rust panic to JS before wasm traps: the trap itself reaches JS
/// as a bare `RuntimeError: unreachable`, with the message lost. The message
/// goes to `handler(message)` if one was set with `setPanicHandler`, and
/// always to the console.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("edgerec engine panicked: {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        // try_with/try_borrow: a panic hook must never panic itself.
        let _ = PANIC_HANDLER.try_with(|handler| {
            if let Ok(handler) = handler.try_borrow() {
                if let Some(handler) = handler.as_ref() {
                    let _ = handler.call1(&JsValue::NULL, &JsValue::from_str(&message));
                }
            }
        });
    }));
}

/// Calls `handler(message)` when the engine panics, just before the wasm
/// call that panicked throws a `WebAssembly.RuntimeError`. After that the
/// instance must not be used again.
#[wasm_bindgen(js_name = setPanicHandler)]
pub fn set_panic_handler(handler: Option<js_sys::Function>) {
    run_static_constructors_once();
    PANIC_HANDLER.with(|slot| *slot.borrow_mut() = handler);
}

/// Runs the static constructors once: tract registers its kernels and ONNX
/// operators through the `inventory` crate. Calling them explicitly also stops
/// the linker from wrapping *every* export in a call to them, which cost about
/// 8 µs per call into wasm.
fn run_static_constructors_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: wasm-ld synthesises this function; `Once` runs it exactly once.
    ONCE.call_once(|| {
        unsafe { __wasm_call_ctors() };
        install_panic_hook();
    });
}

/// A loaded, verified bundle answering recommendation queries.
#[wasm_bindgen(js_name = Engine)]
pub struct Engine {
    inner: CoreEngine,
}

#[wasm_bindgen(js_class = Engine)]
impl Engine {
    /// Loads a bundle from its files: a plain object or a `Map` from path
    /// (`"manifest.json"`, ...) to `Uint8Array`/`ArrayBuffer`. Verifies the
    /// signature (with `options.publicKeys`), the limits (`options.limits`,
    /// overriding the defaults), sizes, hashes and dimensions, and runs the
    /// parity cases; throws if any fails.
    #[wasm_bindgen(constructor)]
    pub fn new(files: &JsValue, options: &JsValue) -> Result<Engine, JsValue> {
        run_static_constructors_once();
        let options = load_options(options)?;
        let files = bundle_files(files)?;
        let inner = CoreEngine::load_with(&files, &options).map_err(engine_error)?;
        Ok(Self { inner })
    }

    #[wasm_bindgen(getter)]
    pub fn version(&self) -> String {
        self.inner.version().to_owned()
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    #[wasm_bindgen(getter, js_name = itemCount)]
    pub fn item_count(&self) -> usize {
        self.inner.catalog().len()
    }

    /// The catalog: `[{ id, title, categories, attributes? }]` in bundle order.
    pub fn items(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.catalog().items())
    }

    /// Category names, in catalog order of first appearance.
    pub fn categories(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.catalog().categories())
    }

    /// `{ version, items: [{ id, score, title }], skipped }` most similar to
    /// `itemId`. Every ranking method takes optional merchandising `rules`
    /// last (filter, exclude, boost, pin: docs/api.md).
    pub fn similar(
        &self,
        item_id: &JsValue,
        k: f64,
        category: &JsValue,
        rules: &JsValue,
    ) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.similar_rows(item_id, k, category, rules)?))
    }

    /// Best items for a user known to the bundle's factor model.
    #[wasm_bindgen(js_name = forUser)]
    pub fn for_user(&self, user_id: &JsValue, k: f64, rules: &JsValue) -> Result<JsValue, JsValue> {
        let user_id = string_arg("userId", user_id)?;
        to_js(&self.inner.for_user_with(&user_id, k_arg(k)?, &rules_arg(rules)?).map_err(engine_error)?)
    }

    /// Best items for an anonymous shopper, folded in from an array of item ids.
    #[wasm_bindgen(js_name = forHistory)]
    pub fn for_history(&self, item_ids: &JsValue, k: f64, rules: &JsValue) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.for_history_rows(item_ids, k, rules)?))
    }

    /// What comes next after a session of item ids (oldest first), from the
    /// LSTM. Items already in the history are left out unless
    /// `excludeHistory` is `false`.
    #[wasm_bindgen(js_name = nextUp)]
    pub fn next_up(
        &self,
        item_ids: &JsValue,
        k: f64,
        exclude_history: &JsValue,
        rules: &JsValue,
    ) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.next_up_rows(item_ids, k, exclude_history, rules)?))
    }

    /// Items whose title or categories match `text`, re-ranked by the taste
    /// of a shopper with this (optional) history of item ids.
    pub fn search(
        &self,
        text: &JsValue,
        k: f64,
        item_ids: &JsValue,
        rules: &JsValue,
    ) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.search_rows(text, k, item_ids, rules)?))
    }

    /// What is trending (time-decayed popularity from training), optionally
    /// in one category; needs a bundle with popularity scores.
    pub fn trending(&self, category: &JsValue, k: f64, rules: &JsValue) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.trending_rows(category, k, rules)?))
    }

    /// "Frequently bought together" with a cart of item ids (or one).
    pub fn together(&self, item_ids: &JsValue, k: f64, rules: &JsValue) -> Result<JsValue, JsValue> {
        to_js(&self.inner.answer(self.together_rows(item_ids, k, rules)?))
    }

    /// The answer of `method` (`similar`, `forHistory`, `nextUp`, `search`,
    /// `trending` or `together`, with that method's arguments) as catalog rows instead of
    /// objects: `{ version, rows: Uint32Array, scores: Float32Array, skipped, source }`,
    /// row *i* being `items()[i]`. What a Worker sends: two buffers to
    /// transfer instead of objects to copy.
    #[wasm_bindgen(js_name = rankRows)]
    pub fn rank_rows(&self, method: &str, args: &Array) -> Result<JsValue, JsValue> {
        let k = args.get(1).as_f64().unwrap_or(f64::NAN);
        let ranked = match method {
            "similar" => self.similar_rows(&args.get(0), k, &args.get(2), &args.get(3)),
            "forHistory" => self.for_history_rows(&args.get(0), k, &args.get(2)),
            "nextUp" => self.next_up_rows(&args.get(0), k, &args.get(2), &args.get(3)),
            "search" => self.search_rows(&args.get(0), k, &args.get(2), &args.get(3)),
            "trending" => self.trending_rows(&args.get(0), k, &args.get(2)),
            "together" => self.together_rows(&args.get(0), k, &args.get(2)),
            _ => return Err(error("bad_method", &format!("rankRows: no ranking method {method:?}"))),
        }?;
        rows_object(&self.inner, &ranked.hits, &ranked.skipped, ranked.source)
    }

    /// Which models this bundle has: some of `"similar"`, `"factors"`, `"next_up"`.
    pub fn models(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.models())
    }

    /// Models the bundle has that this build does not run: `["next_up"]` in
    /// the core build (loaded by the full build instead), else empty.
    #[wasm_bindgen(js_name = deferredModels)]
    pub fn deferred_models(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.deferred_models())
    }
}

/// A version split across Workers (docs/shards.md). Shards run the full
/// build, so the core build leaves these bindings out.
#[cfg(feature = "shards")]
mod split {
    use js_sys::{Array, Float32Array, Float64Array, Object, Uint32Array};
    use serde::Serialize;
    use wasm_bindgen::prelude::*;

    use super::{
        engine_error, error, exclude_history_arg, history_arg, invalid_argument, k_arg, load_options,
        optional_history_arg, optional_string_arg, rows_object, rules_arg, run_static_constructors_once,
        string_arg, to_js, Engine,
    };
    use crate::bundle::{LoadOptions, Shard, ShardFiles};
    use crate::engine::{Engine as CoreEngine, QueryPart, Ranked, Ranking};
    use crate::kernel::Hit;
    use crate::rules::Rules;

    /// One shard of a split version (docs/shards.md): the steps of a ranking
    /// across shards. Shards run the full build, so the core build leaves these out.
    #[wasm_bindgen(js_class = Engine)]
    impl Engine {
        /// Phase one of `method` (`similar`, `forUser`, `forHistory`, `nextUp`,
        /// with its arguments) across shards: `{ fallback: true }` when the
        /// history has no known item (shard 0 answers the plain call), else
        /// `{ part }`: this shard's part of the query (a Float64Array, or null),
        /// summed over the shards for `scanPart`.
        #[wasm_bindgen(js_name = queryPart)]
        pub fn query_part(&self, method: &str, args: &Array) -> Result<JsValue, JsValue> {
            let (ranking, _, _) = ranking_args(method, args)?;
            let value = Object::new();
            match self.inner.query_part(&ranking).map_err(engine_error)? {
                QueryPart::Fallback => set(&value, "fallback", &JsValue::TRUE)?,
                QueryPart::Part(part) => {
                    set(&value, "fallback", &JsValue::FALSE)?;
                    set(
                        &value,
                        "part",
                        &part.map_or(JsValue::NULL, |part| Float64Array::from(part.as_slice()).into()),
                    )?;
                }
            }
            Ok(value.into())
        }

        /// Phase two: this shard's best rows for the summed `query`, as
        /// `rankRows` gives them, plus `pins: { rows, positions, scores }` (a
        /// NaN score: not held here, or excluded by the call).
        #[wasm_bindgen(js_name = scanPart)]
        pub fn scan_part(&self, method: &str, args: &Array, query: &[f64]) -> Result<JsValue, JsValue> {
            let (ranking, k, rules) = ranking_args(method, args)?;
            let part = self.inner.scan_part(&ranking, k, &rules, query).map_err(engine_error)?;
            let value = rows_object(&self.inner, &part.hits, &part.skipped, part.source)?;
            let pins = Object::new();
            let rows: Vec<u32> = part.pins.iter().map(|pin| pin.row as u32).collect();
            let positions: Vec<u32> = part.pins.iter().map(|pin| pin.position as u32).collect();
            let scores: Vec<f32> = part.pins.iter().map(|pin| pin.score.unwrap_or(f32::NAN)).collect();
            set(&pins, "rows", &Uint32Array::from(rows.as_slice()).into())?;
            set(&pins, "positions", &Uint32Array::from(positions.as_slice()).into())?;
            set(&pins, "scores", &Float32Array::from(scores.as_slice()).into())?;
            set(&value, "pins", &pins.into())?;
            Ok(value)
        }

        /// VᵀV over this shard's item factor rows (summed over the shards for
        /// `completeGram`); undefined without factors.
        #[wasm_bindgen(js_name = gramPart)]
        pub fn gram_part(&self) -> Option<Vec<f64>> {
            self.inner.gram_part()
        }

        /// Gives this shard VᵀV over the whole catalog, so it can fold in.
        #[wasm_bindgen(js_name = completeGram)]
        pub fn complete_gram(&mut self, whole: &[f64]) -> Result<(), JsValue> {
            self.inner.complete_gram(whole).map_err(engine_error)
        }

        /// The catalog rows matching `text` (shard 0 of a split version).
        #[wasm_bindgen(js_name = searchMatches)]
        pub fn search_matches(&self, text: &JsValue) -> Result<Vec<u32>, JsValue> {
            let rows = self.inner.search_matches(&string_arg("text", text)?).map_err(engine_error)?;
            Ok(rows.into_iter().map(|row| row as u32).collect())
        }

        /// Phase two of a personalised search: `{ rows, scores }`, the taste of
        /// each of the matching `rows` this shard holds, for the summed
        /// `forHistory` query.
        #[wasm_bindgen(js_name = searchTastePart)]
        pub fn search_taste_part(&self, rows: &[u32], query: &[f64]) -> Result<JsValue, JsValue> {
            let rows: Vec<usize> = rows.iter().map(|&row| row as usize).collect();
            let tastes = self.inner.search_taste_part(&rows, query).map_err(engine_error)?;
            let value = Object::new();
            let rows: Vec<u32> = tastes.iter().map(|&(row, _)| row as u32).collect();
            let scores: Vec<f32> = tastes.iter().map(|&(_, score)| score).collect();
            set(&value, "rows", &Uint32Array::from(rows.as_slice()).into())?;
            set(&value, "scores", &Float32Array::from(scores.as_slice()).into())?;
            Ok(value.into())
        }

        /// Phase three, on shard 0: `search` ranked with every shard's tastes
        /// (none: unpersonalised), as `rankRows` gives it.
        #[wasm_bindgen(js_name = searchWithTastes)]
        pub fn search_with_tastes(
            &self,
            args: &Array,
            rows: &[u32],
            scores: &[f32],
        ) -> Result<JsValue, JsValue> {
            let text = string_arg("text", &args.get(0))?;
            let k = k_arg(args.get(1).as_f64().unwrap_or(f64::NAN))?;
            let history = optional_history_arg(&args.get(2))?;
            let rules = rules_arg(&args.get(3))?;
            if rows.len() != scores.len() {
                return Err(invalid_argument("search tastes need as many scores as rows"));
            }
            let tastes: Vec<(usize, f32)> =
                rows.iter().zip(scores).map(|(&row, &score)| (row as usize, score)).collect();
            let ranked = self
                .inner
                .search_with_tastes_rows(&text, k, &history, &rules, &tastes)
                .map_err(engine_error)?;
            rows_object(&self.inner, &ranked.hits, &ranked.skipped, ranked.source)
        }

        /// The parity cases a split version runs through its shards:
        /// `[{ case, method, args }]`, each answered across the shards and
        /// checked with `checkParity`.
        #[wasm_bindgen(js_name = splitParityCases)]
        pub fn split_parity_cases(&self) -> Result<JsValue, JsValue> {
            #[derive(Serialize)]
            struct Case {
                case: usize,
                method: &'static str,
                args: Vec<serde_json::Value>,
            }
            use serde_json::{json, Value};
            let (k, cases) = self.inner.split_parity_cases();
            let cases: Vec<Case> = cases
                .into_iter()
                .map(|(case, ranking)| {
                    let (method, args) = match ranking {
                        Ranking::Similar { item, category } => {
                            ("similar", vec![json!(item), json!(k), json!(category)])
                        }
                        Ranking::ForUser { user } => ("forUser", vec![json!(user), json!(k)]),
                        Ranking::ForHistory { history } => ("forHistory", vec![json!(history), json!(k)]),
                        Ranking::NextUp { history, exclude_history } => {
                            ("nextUp", vec![json!(history), json!(k), Value::Bool(exclude_history)])
                        }
                    };
                    Case { case, method, args }
                })
                .collect();
            to_js(&cases)
        }

        /// Checks a merged answer (catalog rows and scores) to parity case
        /// `case`; throws `bundle_parity_failed` when it disagrees.
        #[wasm_bindgen(js_name = checkParity)]
        pub fn check_parity(&self, case: usize, rows: &[u32], scores: &[f32]) -> Result<(), JsValue> {
            let items = self.inner.catalog().len();
            if rows.len() != scores.len() || rows.iter().any(|&row| row as usize >= items) {
                return Err(invalid_argument(
                    "a parity answer needs one score per row, each row in the catalog",
                ));
            }
            let hits =
                rows.iter().zip(scores).map(|(&row, &score)| Hit { index: row as usize, score }).collect();
            let answer = self.inner.answer(Ranked::new(hits, Vec::new(), ""));
            self.inner.check_parity_answer(case, &answer.items).map_err(engine_error)
        }
    }

    /// One shard of a version split across Workers (docs/shards.md): takes the
    /// version's files in pieces, hashes each file whole and keeps only the
    /// shard's rows of the split matrices, then becomes that shard's Engine.
    #[wasm_bindgen(js_name = ShardLoader)]
    pub struct ShardLoader {
        files: Option<ShardFiles>,
        options: LoadOptions,
    }

    #[wasm_bindgen(js_class = ShardLoader)]
    impl ShardLoader {
        /// Checks the manifest (and its signature, with `options.publicKeys`)
        /// for shard `index` of `count`.
        #[wasm_bindgen(constructor)]
        pub fn new(
            manifest: &[u8],
            signature: Option<Vec<u8>>,
            options: &JsValue,
            index: u32,
            count: u32,
        ) -> Result<ShardLoader, JsValue> {
            run_static_constructors_once();
            let options = load_options(options)?;
            let shard = Shard::new(index as usize, count as usize).map_err(|e| invalid_argument(&e))?;
            let files = ShardFiles::new(manifest, signature.as_deref(), &options, shard)
                .map_err(|e| engine_error(e.into()))?;
            Ok(Self { files: Some(files), options })
        }

        /// Whether this shard needs the file at `path` (all but the next-up
        /// encoder, which only shard 0 runs).
        pub fn needs(&self, path: &str) -> bool {
            self.files.as_ref().is_some_and(|files| files.needs(path))
        }

        /// The next piece of `path`'s bytes, in order.
        pub fn add(&mut self, path: &str, piece: &[u8]) -> Result<(), JsValue> {
            let files = self.files.as_mut().ok_or_else(|| invalid_argument("this loader has finished"))?;
            files.add(path, piece).map_err(|e| engine_error(e.into()))
        }

        /// Checks every file's size and hash and loads the shard.
        pub fn finish(&mut self) -> Result<Engine, JsValue> {
            let files = self.files.take().ok_or_else(|| invalid_argument("this loader has finished"))?;
            let verified = files.finish().map_err(|e| engine_error(e.into()))?;
            let inner = CoreEngine::load_shard(&verified, &self.options).map_err(engine_error)?;
            Ok(Engine { inner })
        }
    }

    fn set(object: &JsValue, name: &str, value: &JsValue) -> Result<(), JsValue> {
        js_sys::Reflect::set(object, &JsValue::from_str(name), value).map(|_| ())
    }

    /// A ranking of a split version, its k and rules, from a method's arguments.
    fn ranking_args(method: &str, args: &Array) -> Result<(Ranking, usize, Rules), JsValue> {
        let k = k_arg(args.get(1).as_f64().unwrap_or(f64::NAN))?;
        let (ranking, rules) = match method {
            "similar" => (
                Ranking::Similar {
                    item: string_arg("itemId", &args.get(0))?,
                    category: optional_string_arg("category", &args.get(2))?,
                },
                args.get(3),
            ),
            "forUser" => (Ranking::ForUser { user: string_arg("userId", &args.get(0))? }, args.get(2)),
            "forHistory" => (Ranking::ForHistory { history: history_arg(&args.get(0))? }, args.get(2)),
            "nextUp" => (
                Ranking::NextUp {
                    history: history_arg(&args.get(0))?,
                    exclude_history: exclude_history_arg(&args.get(2))?,
                },
                args.get(3),
            ),
            _ => return Err(error("bad_method", &format!("no split ranking method {method:?}"))),
        };
        Ok((ranking, k, rules_arg(&rules)?))
    }
}

// Each ranking's arguments read from JS, ranked as catalog rows.
impl Engine {
    fn similar_rows(
        &self,
        item_id: &JsValue,
        k: f64,
        category: &JsValue,
        rules: &JsValue,
    ) -> Result<Ranked, JsValue> {
        let item_id = string_arg("itemId", item_id)?;
        let category = optional_string_arg("category", category)?;
        let rules = rules_arg(rules)?;
        self.inner.similar_rows(&item_id, k_arg(k)?, category.as_deref(), &rules).map_err(engine_error)
    }

    fn together_rows(&self, item_ids: &JsValue, k: f64, rules: &JsValue) -> Result<Ranked, JsValue> {
        let item_ids = history_arg(item_ids)?;
        self.inner.together_rows(&id_strs(&item_ids), k_arg(k)?, &rules_arg(rules)?).map_err(engine_error)
    }

    fn trending_rows(&self, category: &JsValue, k: f64, rules: &JsValue) -> Result<Ranked, JsValue> {
        let category = optional_string_arg("category", category)?;
        self.inner.trending_rows(k_arg(k)?, category.as_deref(), &rules_arg(rules)?).map_err(engine_error)
    }

    fn for_history_rows(&self, item_ids: &JsValue, k: f64, rules: &JsValue) -> Result<Ranked, JsValue> {
        let item_ids = history_arg(item_ids)?;
        self.inner.for_history_rows(&id_strs(&item_ids), k_arg(k)?, &rules_arg(rules)?).map_err(engine_error)
    }

    fn next_up_rows(
        &self,
        item_ids: &JsValue,
        k: f64,
        exclude_history: &JsValue,
        rules: &JsValue,
    ) -> Result<Ranked, JsValue> {
        let item_ids = history_arg(item_ids)?;
        let exclude_history = exclude_history_arg(exclude_history)?;
        self.inner
            .next_up_rows(&id_strs(&item_ids), k_arg(k)?, exclude_history, &rules_arg(rules)?)
            .map_err(engine_error)
    }

    fn search_rows(
        &self,
        text: &JsValue,
        k: f64,
        item_ids: &JsValue,
        rules: &JsValue,
    ) -> Result<Ranked, JsValue> {
        let text = string_arg("text", text)?;
        let history = optional_history_arg(item_ids)?;
        self.inner.search_rows(&text, k_arg(k)?, &id_strs(&history), &rules_arg(rules)?).map_err(engine_error)
    }
}

/// A synthetic item matrix and queries for `make bench-scan`: the kernel's
/// scan alone, timed from JS.
#[wasm_bindgen(js_name = BenchMatrix)]
pub struct BenchMatrix {
    matrix: ItemMatrix,
    queries: Vec<Vec<f32>>,
}

#[wasm_bindgen(js_class = BenchMatrix)]
impl BenchMatrix {
    /// `rows × cols` values, int8 or f32, and 64 queries.
    #[wasm_bindgen(constructor)]
    pub fn new(rows: u32, cols: u32, int8: bool) -> BenchMatrix {
        let matrix = kernel::synthetic(rows as usize, cols as usize, int8, 7);
        let queries =
            (0..64).map(|seed| kernel::synthetic(1, cols as usize, false, 100 + seed).row(0)).collect();
        BenchMatrix { matrix, queries }
    }

    /// The best `k` rows for query `query % 64`: their indices.
    pub fn scan(&self, query: u32, k: u32) -> Vec<u32> {
        let query = &self.queries[query as usize % self.queries.len()];
        kernel::search(&self.matrix, query, k as usize, |_| true).iter().map(|hit| hit.index as u32).collect()
    }
}

/// Merchandising rules from JS (undefined or null: none).
fn rules_arg(rules: &JsValue) -> Result<Rules, JsValue> {
    if rules.is_undefined() || rules.is_null() {
        return Ok(Rules::default());
    }
    // As JSON text: serde_wasm_bindgen reads only the fields a struct names,
    // so a misspelt rule would be ignored, not refused.
    let text = js_sys::JSON::stringify(rules)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| invalid_argument("rules could not be read as JSON"))?;
    serde_json::from_slice(text.as_bytes()).map_err(|e| invalid_argument(&format!("rules: {e}")))
}

fn history_arg(item_ids: &JsValue) -> Result<Vec<String>, JsValue> {
    serde_wasm_bindgen::from_value(item_ids.clone())
        .map_err(|_| invalid_argument("history must be an array of item id strings"))
}

/// `{ limits?: { maxItems, ... }, publicKeys?: [base64] }`, all optional.
fn load_options(options: &JsValue) -> Result<LoadOptions, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(LoadOptions::default());
    }
    if !options.is_object() {
        return Err(invalid_argument("engine options must be an object { limits, publicKeys }"));
    }
    let field = |name: &str| Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let limits = field("limits");
    let limits =
        if limits.is_undefined() || limits.is_null() { Limits::default() } else { limits_arg(&limits)? };
    let keys = field("publicKeys");
    let keys: Vec<String> = if keys.is_undefined() || keys.is_null() {
        Vec::new()
    } else {
        serde_wasm_bindgen::from_value(keys)
            .map_err(|_| invalid_argument("publicKeys must be an array of base64 strings"))?
    };
    let public_keys = keys
        .iter()
        .map(|key| PublicKey::from_base64(key).map_err(|e| invalid_argument(&format!("publicKeys: {e}"))))
        .collect::<Result<_, _>>()?;
    Ok(LoadOptions { limits, public_keys })
}

/// Each limit a whole number >= 1 (a JS number up to 2^53), unknown names refused.
fn limits_arg(limits: &JsValue) -> Result<Limits, JsValue> {
    if !limits.is_object() {
        return Err(invalid_argument("limits must be an object like { maxItems: 100000 }"));
    }
    let mut checked = serde_json::Map::new();
    for entry in Object::entries(limits.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let name = pair.get(0).as_string().unwrap_or_default();
        let value =
            pair.get(1).as_f64().filter(|v| v.fract() == 0.0 && (1.0..=9_007_199_254_740_991.0).contains(v));
        let Some(value) = value else {
            return Err(invalid_argument(&format!("limits.{name} must be a whole number >= 1")));
        };
        checked.insert(name, serde_json::Value::from(value as u64));
    }
    serde_json::from_value(serde_json::Value::Object(checked))
        .map_err(|e| invalid_argument(&format!("limits: {e}")))
}

fn bundle_files(files: &JsValue) -> Result<BundleFiles, JsValue> {
    let entries: Array = if let Some(map) = files.dyn_ref::<Map>() {
        Array::from(&map.entries())
    } else if files.is_object() {
        Object::entries(files.unchecked_ref())
    } else {
        return Err(invalid_argument("bundle files must be an object or Map from path to bytes"));
    };
    let mut out = BundleFiles::new();
    for entry in entries.iter() {
        let pair: Array = entry.unchecked_into();
        let path =
            pair.get(0).as_string().ok_or_else(|| invalid_argument("bundle file paths must be strings"))?;
        let value = pair.get(1);
        let is_bytes = value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>();
        if !is_bytes {
            return Err(invalid_argument(&format!(
                "bundle file {path:?} must be a Uint8Array or ArrayBuffer"
            )));
        }
        out.insert(path, Uint8Array::new(&value).to_vec());
    }
    Ok(out)
}

/// `{ version, rows: Uint32Array, scores: Float32Array, skipped, source }`.
fn rows_object(
    engine: &CoreEngine,
    hits: &[Hit],
    skipped: &[String],
    source: &str,
) -> Result<JsValue, JsValue> {
    thread_local! {
        /// The answer's property names, made once: each JS string made from
        /// Rust is decoded again, and every ranking through a Worker comes here.
        static KEYS: [JsValue; 5] = ["version", "rows", "scores", "skipped", "source"].map(JsValue::from_str);
    }
    let rows: Vec<u32> = hits.iter().map(|hit| hit.index as u32).collect();
    let scores: Vec<f32> = hits.iter().map(|hit| hit.score).collect();
    let values = [
        js_string(engine.version()),
        Uint32Array::from(rows.as_slice()).into(),
        Float32Array::from(scores.as_slice()).into(),
        if skipped.is_empty() { Array::new().into() } else { to_js(skipped)? },
        js_string(source),
    ];
    let object = Object::new();
    KEYS.with(|keys| {
        keys.iter().zip(&values).try_for_each(|(key, value)| Reflect::set(&object, key, value).map(|_| ()))
    })?;
    Ok(object.into())
}

/// `text` as a JS string, made once for the few an answer names (its
/// version and source), like the property names above.
fn js_string(text: &str) -> JsValue {
    const MOST: usize = 16;
    thread_local! {
        static MADE: RefCell<Vec<(String, JsValue)>> = const { RefCell::new(Vec::new()) };
    }
    MADE.with_borrow_mut(|cache| {
        if let Some((_, value)) = cache.iter().find(|(cached, _)| cached == text) {
            return value.clone();
        }
        let value = JsValue::from_str(text);
        if cache.len() == MOST {
            cache.remove(0);
        }
        cache.push((text.to_owned(), value.clone()));
        value
    })
}

fn exclude_history_arg(value: &JsValue) -> Result<bool, JsValue> {
    match value.as_bool() {
        Some(flag) => Ok(flag),
        None if value.is_undefined() => Ok(true),
        None => Err(invalid_argument("excludeHistory must be a boolean")),
    }
}

fn optional_history_arg(value: &JsValue) -> Result<Vec<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        Ok(Vec::new())
    } else {
        history_arg(value)
    }
}

fn k_arg(k: f64) -> Result<usize, JsValue> {
    if !(k.is_finite() && k.fract() == 0.0 && (1.0..=u32::MAX as f64).contains(&k)) {
        return Err(error("invalid_k", &format!("k must be a whole number >= 1, got {k}")));
    }
    Ok(k as usize)
}

fn string_arg(name: &str, value: &JsValue) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| invalid_argument(&format!("{name} must be a string")))
}

fn optional_string_arg(name: &str, value: &JsValue) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    string_arg(name, value).map(Some)
}

/// Plain JS objects and numbers, as `JSON.parse` would give (not `Map`s).
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| error("internal", &e.to_string()))
}

fn engine_error(e: EngineError) -> JsValue {
    error(e.code(), &e.to_string())
}

fn invalid_argument(message: &str) -> JsValue {
    error("invalid_argument", message)
}

/// A JS `Error` named `EdgeRecError` with a stable `code` property.
fn error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("EdgeRecError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}
