//! Resume state of an interrupted `send`: one small JSON file per upload under the user's
//! state directory, named by a hash of the server, the options and the inputs' paths, sizes
//! and modification times. It holds what is needed to regenerate byte-identical ciphertext
//! (the secret, the header's salt and nonce prefix) and the session's ID, so it is written
//! readable by its owner only, and removed when the upload completes.
//!
//! The state is only a hint: before a session is reused, every chunk the server reports is
//! compared (size and SHA-256) with the chunk regenerated from the current content, so a
//! session is never continued with different content.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ClientError, Result};

/// The version of the state file's format.
const VERSION: u8 = 1;

/// What a resumable upload needs to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeState {
    /// The format version.
    pub version: u8,
    /// The upload session's ID.
    pub upload_id: String,
    /// The link secret.
    pub secret: String,
    /// The V4 header's salt, hex.
    pub salt: String,
    /// The V4 header's nonce prefix, hex.
    pub nonce_prefix: String,
    /// Bytes per chunk of the session.
    pub chunk_size: u64,
    /// Chunks of the session.
    pub total_chunks: u64,
}

impl ResumeState {
    /// A state of the current format.
    pub fn new(
        upload_id: &str,
        secret: &str,
        salt: &[u8],
        nonce_prefix: &[u8],
        chunk_size: u64,
        total_chunks: u64,
    ) -> ResumeState {
        ResumeState {
            version: VERSION,
            upload_id: upload_id.to_string(),
            secret: secret.to_string(),
            salt: hex::encode(salt),
            nonce_prefix: hex::encode(nonce_prefix),
            chunk_size,
            total_chunks,
        }
    }
}

/// The state file of one (server, options, inputs) combination.
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file for `key` (everything that must match for a resume), if the platform
    /// has a state directory.
    pub fn for_key(key: &str) -> Option<StateFile> {
        let dir = super::settings::state_dir()?;
        let name = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
        Some(StateFile {
            path: dir.join(format!("{name}.json")),
        })
    }

    /// The saved state, if there is a readable one of the current format.
    pub fn load(&self) -> Option<ResumeState> {
        let text = std::fs::read(&self.path).ok()?;
        serde_json::from_slice::<ResumeState>(&text)
            .ok()
            .filter(|s| s.version == VERSION)
    }

    /// Saves the state (owner-only, written to a temporary file and renamed into place).
    pub fn save(&self, state: &ResumeState) -> Result<()> {
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        crate::private_dir::create_dir_all(dir).map_err(|e| ClientError::io(dir, e))?;
        let json = serde_json::to_vec(state).unwrap_or_default();
        crate::private_dir::atomic_write(&self.path, &json)
            .map_err(|e| ClientError::io(&self.path, e))
    }

    /// Deletes the state (after completion, or when it turned out stale).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
