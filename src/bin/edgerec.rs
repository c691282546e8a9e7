//! Command-line tools for bundles, run natively.
//!
//!     edgerec verify <bundle-dir> [--public-key KEY]...
//!         verify the signature (when keys are given: base64, or a .pub file),
//!         the limits, files and hashes, run the parity cases
//!     edgerec eval <bundle-dir> <data-file> [--protocol sampled|full|both] [--seed N] [--users N] [--ease-lambda L]
//!         HR@10 / NDCG@10 of next_up, for_you (fold-in), similar (to the last
//!         item), and the baselines item-kNN, EASE (λ chosen on the validation
//!         item unless given) and PopRec: leave-one-out
//!         on `user item ...` sequences, or full ranking of held-out baskets on
//!         `user item ... | item ...` lines (python -m models.holdout writes them)
//!     edgerec bench <bundle-dir>
//!         per-call latency of each query (median and best of 20 batches)

use std::borrow::Cow;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use edgerec::bundle::{LoadOptions, PublicKey};
use edgerec::eval::baselines::{Ease, ItemKnn};
use edgerec::eval::{self, Basket, Metrics, Protocol, Sequence};
use edgerec::{BundleFiles, Engine};

const USAGE: &str = "usage:
  edgerec verify <bundle-dir> [--public-key KEY]...   (KEY: base64 or a file holding it)
  edgerec eval <bundle-dir> <data-file> [--protocol sampled|full|both] [--seed N] [--users N] [--ease-lambda L]
  edgerec bench <bundle-dir>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("verify") if args.len() >= 2 => {
            verify_options(&args[2..]).and_then(|options| verify(Path::new(&args[1]), &options)).map(|_| ())
        }
        Some("eval") if args.len() >= 3 => EvalOptions::parse(&args[3..])
            .and_then(|options| evaluate(Path::new(&args[1]), Path::new(&args[2]), &options)),
        Some("bench") if args.len() == 2 => bench(Path::new(&args[1])),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("edgerec: {message}");
            ExitCode::FAILURE
        }
    }
}

fn verify_options(args: &[String]) -> Result<LoadOptions, String> {
    let mut options = LoadOptions::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag != "--public-key" {
            return Err(format!("unknown option {flag:?}\n{USAGE}"));
        }
        let value = args.next().ok_or_else(|| format!("--public-key needs a value\n{USAGE}"))?;
        let text = match std::fs::read_to_string(value) {
            Ok(contents) => contents,
            Err(_) => value.clone(),
        };
        options
            .public_keys
            .push(PublicKey::from_base64(&text).map_err(|e| format!("--public-key {value}: {e}"))?);
    }
    Ok(options)
}

fn verify(dir: &Path, options: &LoadOptions) -> Result<Engine, String> {
    let started = Instant::now();
    let engine = load(dir, options)?;
    let manifest = engine.manifest();
    println!(
        "{}: bundle {} version {} OK: {}{} files verified, {} items, models {:?}, {} parity cases passed ({} ms)",
        dir.display(),
        manifest.name,
        manifest.version,
        if options.public_keys.is_empty() { "" } else { "signature verified, " },
        manifest.files.len(),
        engine.catalog().len(),
        engine.models(),
        manifest.parity.cases.len(),
        started.elapsed().as_millis()
    );
    Ok(engine)
}

fn load(dir: &Path, options: &LoadOptions) -> Result<Engine, String> {
    let files: BundleFiles =
        edgerec::bundle::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Engine::load_with(&files, options).map_err(|e| format!("{}: [{}] {e}", dir.display(), e.code()))
}

struct EvalOptions {
    protocols: Vec<Protocol>,
    protocol_given: bool,
    seed: u64,
    users: Option<usize>,
    /// None: chosen on the validation item (sequence files), else the default.
    ease_lambda: Option<f32>,
}

impl EvalOptions {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            protocols: vec![Protocol::Sampled, Protocol::Full],
            protocol_given: false,
            seed: 42,
            users: None,
            ease_lambda: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--protocol" => {
                    options.protocol_given = true;
                    options.protocols = match value.as_str() {
                        "sampled" => vec![Protocol::Sampled],
                        "full" => vec![Protocol::Full],
                        "both" => vec![Protocol::Sampled, Protocol::Full],
                        other => return Err(format!("unknown protocol {other:?}\n{USAGE}")),
                    }
                }
                "--seed" => options.seed = value.parse().map_err(|_| format!("bad --seed {value:?}"))?,
                "--users" => {
                    options.users = Some(value.parse().map_err(|_| format!("bad --users {value:?}"))?)
                }
                "--ease-lambda" => {
                    options.ease_lambda = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|l: &f32| l.is_finite() && *l > 0.0)
                            .ok_or_else(|| format!("bad --ease-lambda {value:?}: a positive number"))?,
                    )
                }
                other => return Err(format!("unknown option {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

fn evaluate(bundle_dir: &Path, data: &Path, options: &EvalOptions) -> Result<(), String> {
    let engine = verify(bundle_dir, &LoadOptions::default())?;
    let text = std::fs::read_to_string(data).map_err(|e| format!("cannot read {}: {e}", data.display()))?;
    let catalog = engine.catalog();
    let rows = |line: usize, ids: &[String]| {
        ids.iter()
            .map(|id| {
                catalog.index_of(id).ok_or_else(|| format!("user #{line}: item {id:?} is not in the bundle"))
            })
            .collect::<Result<Vec<usize>, String>>()
    };
    let item_count = catalog.len();
    let table_header = || {
        println!("\n| model | protocol | HR@{0} | NDCG@{0} | users | seconds |", eval::CUTOFF);
        println!("|---|---|---|---|---|---|");
    };
    if eval::is_basket_file(&text) {
        if options.protocols.contains(&Protocol::Sampled) && options.protocol_given {
            return Err(format!(
                "{}: basket files are ranked in full only (--protocol full)",
                data.display()
            ));
        }
        let raw = eval::parse_baskets(&text).map_err(|e| format!("{}: {e}", data.display()))?;
        let mut baskets = Vec::with_capacity(raw.len());
        for (line, Basket { history, targets }) in
            raw.iter().enumerate().take(options.users.unwrap_or(usize::MAX))
        {
            let history = rows(line, history)?;
            // Answers exclude the history, so a target already in it could never be hit.
            let targets = rows(line, targets)?.into_iter().filter(|t| !history.contains(t)).collect();
            baskets.push(Basket { history, targets });
        }
        let popularity = eval::basket_popularity(&baskets, item_count);
        let histories: Vec<&[usize]> = baskets.iter().map(|b| b.history.as_slice()).collect();
        let baselines =
            Baselines::fit(&histories, item_count, options.ease_lambda.unwrap_or(Ease::DEFAULT_LAMBDA));
        table_header();
        for (model, mut score) in scorers(&engine, &popularity, &baselines) {
            let started = Instant::now();
            let metrics = eval::evaluate_baskets(&baskets, item_count, options.seed, &mut score)?;
            report(model, "full ranking, last basket", metrics, started);
        }
        if engine.models().contains(&"together") {
            let mut completers: Vec<(&str, Scorer)> = vec![(
                "together (bought together)",
                Box::new(|cart| engine.together_scores(cart).map(Cow::Owned).map_err(|e| e.to_string())),
            )];
            completers.push(("PopRec", Box::new(|_| Ok(Cow::Borrowed(popularity.as_slice())))));
            for (model, mut score) in completers {
                let started = Instant::now();
                let metrics = eval::evaluate_completion(&baskets, item_count, options.seed, &mut score)?;
                report(model, "complete the basket: one item held out", metrics, started);
            }
        }
        return Ok(());
    }
    let raw = eval::parse_sequences(&text).map_err(|e| format!("{}: {e}", data.display()))?;
    let mut sequences: Vec<Sequence> =
        raw.iter().enumerate().map(|(line, ids)| rows(line, ids)).collect::<Result<_, _>>()?;
    if let Some(limit) = options.users {
        sequences.truncate(limit);
    }
    let popularity = eval::popularity(&sequences, item_count);
    // The baselines learn from what popularity counts: each sequence without its test item.
    let inputs: Vec<&[usize]> = sequences.iter().map(|s| &s[..s.len().saturating_sub(1)]).collect();
    let ease_lambda = match options.ease_lambda {
        Some(lambda) => lambda,
        None => choose_ease_lambda(&sequences, item_count, options.seed)?,
    };
    let baselines = Baselines::fit(&inputs, item_count, ease_lambda);
    table_header();
    for &protocol in &options.protocols {
        for (model, mut score) in scorers(&engine, &popularity, &baselines) {
            let started = Instant::now();
            let metrics = eval::evaluate(&sequences, item_count, protocol, options.seed, &mut score)?;
            let name = match protocol {
                Protocol::Sampled => "100 sampled negatives",
                Protocol::Full => "full ranking",
            };
            report(model, name, metrics, started);
        }
    }
    Ok(())
}

type Scorer<'a> = Box<dyn FnMut(&[usize]) -> Result<Cow<'a, [f32]>, String> + 'a>;

/// EASE's λ with the best full-ranking NDCG@10 on the validation item (each
/// sequence's second-last, the last never seen), as the models choose theirs.
fn choose_ease_lambda(sequences: &[Sequence], item_count: usize, seed: u64) -> Result<f32, String> {
    let validation: Vec<Sequence> =
        sequences.iter().filter(|s| s.len() >= 3).map(|s| s[..s.len() - 1].to_vec()).collect();
    let inputs: Vec<&[usize]> = validation.iter().map(|s| &s[..s.len() - 1]).collect();
    let mut best: Option<(f32, f64)> = None;
    for &lambda in &Ease::LAMBDAS {
        let started = Instant::now();
        // A fit that fails here (too many items) fails the same way below, which says why.
        let Ok(ease) = Ease::fit(&inputs, item_count, lambda) else { return Ok(Ease::DEFAULT_LAMBDA) };
        let metrics = eval::evaluate(&validation, item_count, Protocol::Full, seed, |h| {
            Ok::<_, String>(Cow::Owned(ease.scores(h)))
        })?;
        println!(
            "EASE λ = {lambda}: validation NDCG@10 {:.4} ({:.0} s)",
            metrics.ndcg,
            started.elapsed().as_secs_f64()
        );
        if best.is_none_or(|(_, ndcg)| metrics.ndcg > ndcg) {
            best = Some((lambda, metrics.ndcg));
        }
    }
    best.map(|(lambda, _)| lambda).ok_or_else(|| "EASE: no λ to try".to_owned())
}

/// The baselines fitted on the evaluation's inputs; EASE is left out (with
/// the reason printed) when its dense matrices would be too big.
struct Baselines {
    knn: ItemKnn,
    ease: Option<Ease>,
}

impl Baselines {
    fn fit(histories: &[&[usize]], item_count: usize, ease_lambda: f32) -> Self {
        let started = Instant::now();
        let knn = ItemKnn::fit(histories, item_count);
        println!(
            "item-kNN ({} neighbours, shrinkage {}): fitted in {:.1} s",
            ItemKnn::NEIGHBOURS,
            ItemKnn::SHRINK,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let ease = match Ease::fit(histories, item_count, ease_lambda) {
            Ok(ease) => {
                println!(
                    "EASE (λ = {ease_lambda}, {} items): fitted in {:.1} s",
                    ease.items(),
                    started.elapsed().as_secs_f64()
                );
                Some(ease)
            }
            Err(reason) => {
                println!("{reason}: not evaluated");
                None
            }
        };
        Self { knn, ease }
    }
}

/// Every model the bundle has, then the baselines, as score functions over catalog rows.
fn scorers<'a>(
    engine: &'a Engine,
    popularity: &'a [f32],
    baselines: &'a Baselines,
) -> Vec<(&'static str, Scorer<'a>)> {
    let mut scorers: Vec<(&'static str, Scorer<'a>)> = Vec::new();
    let models = engine.models();
    if models.contains(&"next_up") {
        scorers.push((
            "next_up (LSTM)",
            Box::new(|history| engine.next_up_scores(history).map(Cow::Owned).map_err(|e| e.to_string())),
        ));
    }
    if models.contains(&"factors") {
        scorers.push((
            "for_you (fold-in)",
            Box::new(|history| engine.for_history_scores(history).map(Cow::Owned).map_err(|e| e.to_string())),
        ));
    }
    if models.contains(&"similar") {
        scorers.push((
            "similar (to the last item)",
            Box::new(|history| engine.similar_scores(history).map(Cow::Owned).map_err(|e| e.to_string())),
        ));
    }
    scorers.push(("item-kNN (baseline)", Box::new(|history| Ok(Cow::Owned(baselines.knn.scores(history))))));
    if let Some(ease) = &baselines.ease {
        scorers.push(("EASE (baseline)", Box::new(|history| Ok(Cow::Owned(ease.scores(history))))));
    }
    scorers.push(("PopRec", Box::new(move |_| Ok(Cow::Borrowed(popularity)))));
    scorers
}

fn report(model: &str, protocol: &str, metrics: Metrics, started: Instant) {
    println!(
        "| {model} | {protocol} | {:.4} | {:.4} | {} | {:.1} |",
        metrics.hit_rate,
        metrics.ndcg,
        metrics.users,
        started.elapsed().as_secs_f64()
    );
}

/// Times each query kind on 20-item histories cut from the catalog order, the
/// same inputs and method `www/bench/` uses in the browser (where timers are
/// coarse), so the two are comparable: 20 batches of 50 calls, per-call time
/// = batch time / 50, reported as the median and the fastest batch.
fn bench(dir: &Path) -> Result<(), String> {
    const BATCHES: usize = 20;
    const CALLS: usize = 50;
    let engine = verify(dir, &LoadOptions::default())?;
    let ids: Vec<String> = engine.catalog().items().iter().map(|item| item.id.clone()).collect();
    let histories: Vec<&[String]> = ids.chunks_exact(20).take(50).collect();
    let models = engine.models();
    println!("\n| query | median µs/call | best µs/call | calls |");
    println!("|---|---|---|---|");
    let run = |name: &str, call: &dyn Fn(usize) -> bool| {
        let mut per_call: Vec<f64> = (0..=BATCHES)
            .map(|batch| {
                let started = Instant::now();
                for i in 0..CALLS {
                    assert!(call(batch * CALLS + i), "{name} failed during the benchmark");
                }
                started.elapsed().as_secs_f64() * 1e6 / CALLS as f64
            })
            .skip(1) // the first batch is the warm-up
            .collect();
        per_call.sort_by(f64::total_cmp);
        println!("| {name} | {:.1} | {:.1} | {} |", per_call[BATCHES / 2], per_call[0], BATCHES * CALLS);
    };
    if models.contains(&"similar") {
        run("similar", &|i| engine.similar(&ids[i % ids.len()], 10, None).is_ok());
    }
    if models.contains(&"factors") {
        run("for_history", &|i| engine.for_history(histories[i % histories.len()], 10).is_ok());
    }
    if models.contains(&"next_up") {
        run("next_up", &|i| engine.next_up(histories[i % histories.len()], 10, true).is_ok());
        // The history without its newest item is asked first, untimed.
        let mut per_click: Vec<f64> = (0..BATCHES * CALLS)
            .map(|i| {
                let history = histories[i % histories.len()];
                let asked = engine.next_up(&history[..history.len() - 1], 10, true).is_ok();
                let started = Instant::now();
                let answered = engine.next_up(history, 10, true).is_ok();
                assert!(asked && answered, "next_up failed during the benchmark");
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        per_click.sort_by(f64::total_cmp);
        println!(
            "| next_up, one more click | {:.1} | {:.1} | {} |",
            per_click[per_click.len() / 2],
            per_click[0],
            per_click.len()
        );
    }
    Ok(())
}
