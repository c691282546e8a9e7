//! Command-line tools for bundles, run natively.
//!
//!     edgerec verify <bundle-dir>    verify files and hashes, run parity cases

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use edgerec::{BundleFiles, Engine};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["verify", dir] => verify(Path::new(dir)),
        _ => Err("usage: edgerec verify <bundle-dir>".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("edgerec: {message}");
            ExitCode::FAILURE
        }
    }
}

fn verify(dir: &Path) -> Result<(), String> {
    let started = Instant::now();
    let files = read_bundle_dir(dir)?;
    let engine =
        Engine::load(&files).map_err(|e| format!("{}: [{}] {e}", dir.display(), e.code()))?;
    let manifest = engine.manifest();
    println!(
        "{}: bundle {} version {} OK: {} files verified, {} items, {} parity cases passed ({} ms)",
        dir.display(),
        manifest.name,
        manifest.version,
        manifest.files.len(),
        engine.catalog().len(),
        manifest.parity.cases.len(),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Reads every regular file of a bundle directory into memory, keyed by name.
fn read_bundle_dir(dir: &Path) -> Result<BundleFiles, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = BundleFiles::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}
