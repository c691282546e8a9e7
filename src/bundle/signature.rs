//! Signed manifests: a detached Ed25519 signature (`manifest.sig`, base64 of
//! 64 bytes) over the exact bytes of `manifest.json`. The manifest holds every
//! file's SHA-256, so one signature authenticates the whole version.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};

use super::{BundleError, SIGNATURE_PATH};

/// A trusted publisher key: 32 raw Ed25519 bytes, written as base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|e| format!("public key is not base64: {e}"))?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("public key is {} bytes, an Ed25519 key is 32", b.len()))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|e| format!("not an Ed25519 public key: {e}"))?;
        if key.is_weak() {
            return Err("a weak (small-order) Ed25519 key cannot be trusted".into());
        }
        Ok(Self(key))
    }
}

/// With no trusted keys, anything goes (the signature file, if any, is
/// ignored). With keys, the signature must be present, well-formed and made
/// by one of them (several keys allow rotation).
pub fn verify_manifest(
    manifest: &[u8],
    signature: Option<&[u8]>,
    keys: &[PublicKey],
) -> Result<(), BundleError> {
    if keys.is_empty() {
        return Ok(());
    }
    let bad = |reason: String| BundleError::BadSignature { reason };
    let text =
        signature.ok_or_else(|| bad(format!("the bundle has no {SIGNATURE_PATH}, and keys are pinned")))?;
    let text = std::str::from_utf8(text).map_err(|_| bad(format!("{SIGNATURE_PATH} is not text")))?;
    let bytes =
        STANDARD.decode(text.trim()).map_err(|e| bad(format!("{SIGNATURE_PATH} is not base64: {e}")))?;
    let raw: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
        bad(format!("{SIGNATURE_PATH} holds {} bytes, an Ed25519 signature is 64", b.len()))
    })?;
    let signature = Signature::from_bytes(&raw);
    if keys.iter().any(|key| key.0.verify_strict(manifest, &signature).is_ok()) {
        return Ok(());
    }
    Err(bad(format!(
        "{SIGNATURE_PATH} does not verify manifest.json with any of the {} pinned key(s): signed by another key, or the manifest was changed",
        keys.len()
    )))
}
