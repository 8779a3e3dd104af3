//! `qopy send`: encrypt the source with V4 as a stream, cut the ciphertext into the server's
//! chunk size (regardless of record boundaries, as the browser does), upload the chunks a few
//! at a time, complete the session and return the link with its secret.
//!
//! The session is announced exactly as the browser client announces it: a random hex
//! `filename`, `contentType` `text` or `file`, `mimeType` `application/octet-stream`, the
//! ciphertext's length and chunk count; the real name and type travel inside the encrypted
//! metadata record.
//!
//! Resuming: when resume state exists for the same server, options and inputs (see
//! [`resume`](super::resume)), the session's status is fetched, the chunks the server holds
//! are regenerated and compared by size and SHA-256, and only the missing chunks are sent.
//! Any difference (or a session that is gone) starts a new session with a new secret.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::v4::{NONCE_PREFIX_LEN, SALT_LEN};

use super::api::{access_code_hash, Api, UploadStatus};
use super::chunks::{Chunks, Plan};
use super::progress::Progress;
use super::resume::{ResumeState, StateFile};
use super::source::{prepare, Source};
use super::{ClientError, Result, SendArgs};

/// Chunk uploads in flight at once.
const WORKERS: usize = 3;

/// Test-only: stop after sending this many chunks, as if the connection had dropped, so the
/// integration tests can exercise resuming. Nothing but the tests sets it.
const TEST_STOP_ENV: &str = "QOPY_TEST_STOP_AFTER_CHUNKS";

/// Runs `qopy send` and returns the link (`URL#SECRET`).
pub fn send(args: &SendArgs) -> Result<String> {
    let base = super::settings::server_url(args.server.as_deref())?;
    let api = Api::new(&base)?;
    let cfg = api.config()?;
    if cfg.chunk_size == 0 {
        return Err(ClientError::Usage(
            "the server announced a chunk size of 0".into(),
        ));
    }
    let source = prepare(&args.files, cfg.max_text_chars)?;
    if !source.is_text() && source.metadata.size > cfg.max_file_size {
        return Err(ClientError::Usage(format!(
            "{} is {} bytes; the server accepts files up to {} bytes",
            source.metadata.name, source.metadata.size, cfg.max_file_size
        )));
    }
    let password = args.password.as_deref();
    let access_hash = args
        .access_code
        .as_deref()
        .map(|c| access_code_hash(c, &cfg.pbkdf2_salt));
    let state_file = source.identity.as_ref().and_then(|identity| {
        StateFile::for_key(&format!(
            "{base}\0{}\0{:?}\0{}\0{:?}\0{}\0{}\0{identity}",
            source.is_text(),
            args.expiry,
            args.one_time,
            args.max_downloads,
            args.quick_share,
            password.is_some(),
        ))
    });

    let resumed = match state_file.as_ref().and_then(StateFile::load) {
        Some(state) => try_resume(&api, &source, &state, password, cfg.chunk_size)?,
        None => None,
    };
    let (plan, upload_id, have) = match resumed {
        Some(r) => r,
        None => {
            if let Some(f) = &state_file {
                f.remove();
            }
            let secret = if args.quick_share {
                crate::v4::generate_quick_share_secret()
            } else {
                crate::v4::generate_secret()
            };
            let mut salt = [0u8; SALT_LEN];
            let mut prefix = [0u8; NONCE_PREFIX_LEN];
            OsRng.fill_bytes(&mut salt);
            OsRng.fill_bytes(&mut prefix);
            let plan = Plan::new(secret, password, salt, prefix);
            let len = plan
                .header
                .layout(source.metadata.size)
                .map_err(ClientError::Crypto)?
                .ciphertext_len;
            let total = len.div_ceil(cfg.chunk_size);
            // As the browser: a random name of 16 bytes for files, 8 for text.
            let mut name = vec![0u8; if source.is_text() { 8 } else { 16 }];
            OsRng.fill_bytes(&mut name);
            let body = crate::api::InitiateRequest {
                content_type: Some(if source.is_text() { "text" } else { "file" }.into()),
                dropbox: None,
                expiration: args.expiry.clone(),
                filename: hex::encode(name),
                filesize: Some(len),
                has_password: access_hash.is_some(),
                is_text_content: source.is_text(),
                max_downloads: args.max_downloads,
                mime_type: Some("application/octet-stream".into()),
                one_time: args.one_time,
                quick_share: args.quick_share,
                total_chunks: Some(total),
                wrapped_key: None,
            };
            let init = api.initiate(&body)?;
            if init.total_chunks != total || init.chunk_size != cfg.chunk_size {
                let _ = api.cancel(&init.upload_id);
                return Err(ClientError::Usage(
                    "the server changed its chunk size during the upload; try again".into(),
                ));
            }
            if let Some(f) = &state_file {
                let state = ResumeState::new(
                    &init.upload_id,
                    &plan.secret,
                    &salt,
                    &prefix,
                    init.chunk_size,
                    total,
                );
                f.save(&state)?;
            }
            (plan, init.upload_id, HashSet::new())
        }
    };

    let len = plan
        .header
        .layout(source.metadata.size)
        .map_err(ClientError::Crypto)?
        .ciphertext_len;
    let progress = Progress::new(len, "uploading");
    let stop_after = std::env::var(TEST_STOP_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let mut chunks = plan.chunks(&source, cfg.chunk_size)?;
    let sent = upload_chunks(&api, &upload_id, &mut chunks, &have, &progress, stop_after);
    progress.finish();
    sent?;
    let done = api.complete(&upload_id, access_hash.as_deref())?;
    if let Some(f) = &state_file {
        f.remove();
    }
    let what = if source.is_text() {
        "text".to_string()
    } else {
        format!("{} ({} bytes)", source.metadata.name, source.metadata.size)
    };
    let expires = std::time::UNIX_EPOCH + std::time::Duration::from_millis(done.expires_at);
    eprintln!(
        "qopy: sent {what}; expires {}{}",
        humantime::format_rfc3339_seconds(expires),
        match (args.one_time, args.max_downloads) {
            (true, _) | (false, Some(1)) => ", after one download".to_string(),
            (false, Some(n)) => format!(", after {n} downloads"),
            (false, None) => String::new(),
        }
    );
    Ok(format!("{}#{}", done.url, plan.secret))
}

/// Checks a saved session against the content; returns the plan, the session and the chunks
/// the server already holds when they all match, or `None` (after cancelling a mismatching
/// session) to start afresh.
fn try_resume(
    api: &Api,
    source: &Source,
    state: &ResumeState,
    password: Option<&str>,
    chunk_size: u64,
) -> Result<Option<(Plan, String, HashSet<u32>)>> {
    let Some(status) = api.status(&state.upload_id)? else {
        eprintln!("qopy: the interrupted upload is gone from the server; starting a new one");
        return Ok(None);
    };
    let plan = match Plan::from_state(state, password) {
        Some(p) if fits(&status, state, chunk_size) => p,
        _ => return abandon(api, state, "its session no longer fits"),
    };
    let mut expected = plan.chunks(source, chunk_size)?;
    let stored = &status.chunks;
    let last = stored.iter().map(|c| c.n).max();
    let mut have = HashSet::new();
    if let Some(last) = last {
        while let Some((n, bytes)) = expected.next_chunk()? {
            if let Some(c) = stored.iter().find(|c| c.n == n) {
                let same = c.size == bytes.len() as u64
                    && c.sha256
                        .eq_ignore_ascii_case(&hex::encode(Sha256::digest(&bytes)));
                if !same {
                    return abandon(api, state, "the content changed");
                }
                have.insert(n);
            }
            if n >= last {
                break;
            }
        }
        if have.len() != stored.len() {
            return abandon(
                api,
                state,
                "the server holds chunks this content does not have",
            );
        }
    }
    eprintln!(
        "qopy: resuming an interrupted upload: {} of {} chunks are already on the server",
        have.len(),
        status.total_chunks
    );
    Ok(Some((plan, state.upload_id.clone(), have)))
}

/// True when the session on the server is the one the state describes.
fn fits(status: &UploadStatus, state: &ResumeState, chunk_size: u64) -> bool {
    status.chunk_size == state.chunk_size
        && u64::from(status.total_chunks) == state.total_chunks
        && state.chunk_size == chunk_size
}

fn abandon<T>(api: &Api, state: &ResumeState, why: &str) -> Result<Option<T>> {
    eprintln!("qopy: not resuming the interrupted upload ({why}); starting a new one");
    api.cancel(&state.upload_id)?;
    Ok(None)
}

/// Sends every chunk not in `have`, [`WORKERS`] at a time.
fn upload_chunks(
    api: &Api,
    upload_id: &str,
    chunks: &mut Chunks<'_>,
    have: &HashSet<u32>,
    progress: &Progress,
    stop_after: Option<u32>,
) -> Result<()> {
    let failed: Mutex<Option<ClientError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<(u32, Vec<u8>)>(WORKERS);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let job = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(_) => return,
                };
                let Ok((n, bytes)) = job else { return };
                if stop.load(Ordering::Relaxed) {
                    continue;
                }
                let len = bytes.len() as u64;
                match api.put_chunk(upload_id, n, bytes::Bytes::from(bytes)) {
                    Ok(()) => progress.inc(len),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }
        let mut queued = 0u32;
        let produced = (|| -> Result<()> {
            while let Some((n, bytes)) = chunks.next_chunk()? {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if have.contains(&n) {
                    progress.inc(bytes.len() as u64);
                    continue;
                }
                if stop_after == Some(queued) {
                    return Err(ClientError::TestInterrupted(queued));
                }
                if tx.send((n, bytes)).is_err() {
                    return Ok(());
                }
                queued += 1;
            }
            Ok(())
        })();
        drop(tx);
        produced
    })?;
    match failed.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}
