//! Upload sessions: initiate, store a chunk (idempotently), report status for resume,
//! complete into a clip, and cancel. Completion maps and checks the stored chunk files and
//! commits one transaction; it copies no content, so it costs time per chunk, not per byte.

use super::{Qopy, Result, ServiceError, CHUNK_SLACK, QUICK_SHARE_LIFETIME_MS};
use crate::blobs::ChunkSink;
use crate::model::{
    BlobDir, ChunkRecord, ClipId, ClipMeta, ContentKind, UploadId, UploadSession, ENHANCED_ID_LEN,
    QUICK_ID_LEN,
};
use crate::store::{ChunkPut, CompleteRefused};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::sync::Arc;

/// What the client asks for at initiate (already parsed from JSON).
#[derive(Debug, Clone, Default)]
pub struct InitiateRequest {
    /// File name, 1–255 characters.
    pub filename: String,
    /// Declared size in bytes, if given.
    pub filesize: Option<u64>,
    /// Declared chunk count, if given.
    pub total_chunks: Option<u64>,
    /// MIME type, if given.
    pub mime: Option<String>,
    /// Expiry name, if given.
    pub expiration: Option<String>,
    /// The client will set an access code.
    pub has_password: bool,
    /// The download limit (`Some(1)`: one-time).
    pub max_downloads: Option<u32>,
    /// Quick Share.
    pub quick_share: bool,
    /// Text rather than file.
    pub text: bool,
    /// The drop box to send into (its ID as given), if any.
    pub dropbox: Option<String>,
    /// With a drop box: the content key wrapped to the box, base64url without padding.
    pub wrapped_key: Option<String>,
}

/// The answer to initiate.
#[derive(Debug, Clone)]
pub struct Initiated {
    /// The new session's ID (the capability).
    pub upload_id: UploadId,
    /// Chunk size to use.
    pub chunk_size: u64,
    /// Chunk count.
    pub total_chunks: u32,
    /// When the clip would expire if completed now.
    pub expires_at: u64,
}

/// The result of storing one chunk.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOutcome {
    /// The chunk number.
    pub n: u32,
    /// Distinct chunks received so far.
    pub received: u32,
    /// Announced chunk count.
    pub total: u32,
}

/// Options given at completion.
#[derive(Debug, Clone, Default)]
pub struct CompleteRequest {
    /// The client's access-code hash, when protection is requested.
    pub access_hash: Option<String>,
}

/// A completed upload.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The new clip.
    pub clip: Arc<ClipMeta>,
}

/// Progress of a session.
#[derive(Debug, Clone)]
pub struct Status {
    /// The session.
    pub session: UploadSession,
    /// The chunks received, ascending by number.
    pub received: Vec<(u32, ChunkRecord)>,
}

impl Qopy {
    /// Largest total size a clip may have: the configured maximum plus room for the
    /// encryption overhead (16 bytes per MiB record, a header, padding).
    pub fn max_content_size(&self, text: bool) -> u64 {
        if text {
            // 4 bytes per character at worst, padding and crypto overhead.
            self.config.max_text_chars * 4 + 128 * 1024
        } else {
            self.config.max_file_size + self.config.max_file_size / 4096 + 1024 * 1024
        }
    }

    /// Largest chunk count a session may announce.
    pub fn max_chunks(&self) -> u64 {
        self.max_content_size(false)
            .div_ceil(self.config.chunk_size)
    }

    /// Checks that `room` more bytes fit, then creates a session's directory (durably) and
    /// its record under a fresh random ID.
    pub(super) async fn create_session(
        self: &Arc<Self>,
        session: UploadSession,
        room: u64,
    ) -> Result<UploadId> {
        self.blocking(move |q| {
            q.check_room(room)?;
            q.blobs.create_dir(session.blob)?;
            loop {
                let id = UploadId::random();
                if q.store.insert_session(id, &session)? {
                    return Ok(id);
                }
            }
        })
        .await
    }

    /// Creates an upload session.
    pub async fn initiate(self: &Arc<Self>, req: InitiateRequest) -> Result<Initiated> {
        let cfg = &self.config;
        let mut req = req;
        req.filename = crate::names::sanitize(&req.filename)
            .map_err(|e| ServiceError::Validation(format!("filename {e}")))?;
        let dropbox = self.drop_target(&req)?;
        let max_size = self.max_content_size(req.text);
        if req.filesize == Some(0) {
            return Err(ServiceError::Validation(
                "filesize must be at least 1".into(),
            ));
        }
        if let Some(size) = req.filesize {
            if size > max_size {
                return Err(ServiceError::TooLarge(max_size));
            }
        }
        let total = match (req.total_chunks, req.filesize) {
            (Some(t), _) => t,
            (None, Some(size)) => size.div_ceil(cfg.chunk_size),
            (None, None) => 1,
        };
        // No more chunks than the declared size (or, without one, the kind's limit) needs:
        // a session must not stage more than it can complete into.
        let most = req
            .filesize
            .unwrap_or(max_size)
            .div_ceil(cfg.chunk_size)
            .max(1);
        if total == 0 || total > most {
            return Err(ServiceError::Validation(format!(
                "totalChunks must be between 1 and {most}"
            )));
        }
        let mime = if req.text {
            "text/plain; charset=utf-8".to_string()
        } else {
            match req.mime {
                Some(m) if !m.is_empty() && m.len() <= 100 && is_printable(&m) => m,
                Some(_) => {
                    return Err(ServiceError::Validation(
                        "mimeType must be 1-100 printable characters".into(),
                    ))
                }
                None => "application/octet-stream".to_string(),
            }
        };
        // An item expires with its box: the expiration asked for is ignored.
        let lifetime_ms = if req.quick_share {
            QUICK_SHARE_LIFETIME_MS
        } else if dropbox.is_some() {
            0
        } else {
            self.lifetime_of(req.expiration.as_deref())?
        };
        let declared = req.filesize.unwrap_or(total * cfg.chunk_size);
        let now = self.now();
        let session = UploadSession {
            filename: req.filename,
            mime,
            kind: if req.text {
                ContentKind::Text
            } else {
                ContentKind::File
            },
            total_chunks: total as u32,
            chunk_size: cfg.chunk_size,
            lifetime_ms,
            max_downloads: req.max_downloads,
            quick_share: req.quick_share,
            has_password: req.has_password && !req.quick_share,
            blob: BlobDir::random(),
            created_at: now,
            last_activity: now,
            received: 0,
            received_bytes: 0,
            declared_size: req.filesize,
            dropbox,
        };
        let (id, expires_at) = if session.dropbox.is_some() {
            self.create_drop_session(session, declared).await?
        } else {
            let id = self.create_session(session, declared).await?;
            (id, now + lifetime_ms)
        };
        self.store.flush().await?;
        tracing::debug!(upload = %id.redacted(), total, "upload initiated");
        Ok(Initiated {
            upload_id: id,
            chunk_size: cfg.chunk_size,
            total_chunks: total as u32,
            expires_at,
        })
    }

    /// The lifetime of an expiry name (the default expiry when absent).
    pub(super) fn lifetime_of(&self, name: Option<&str>) -> Result<u64> {
        let cfg = &self.config;
        cfg.expiry_ms(name.unwrap_or(&cfg.default_expiry))
            .ok_or_else(|| {
                let names: Vec<&str> = cfg.expiry_options.iter().map(|(n, _)| n.as_str()).collect();
                ServiceError::Validation(format!("expiration must be one of {}", names.join(", ")))
            })
    }

    /// Stores chunk `n` of session `id` from `body`, to its end, and records it: the one
    /// path of every chunk, from the chunk route and from one-shot uploads. The session is
    /// checked before the first byte is taken; the bytes are gathered here, on the async side,
    /// and written by the bounded set of blob writers; the record is committed and flushed
    /// before this returns. An identical re-send is accepted, different bytes under the same
    /// number are refused. A failed body leaves no file behind.
    pub async fn put_chunk<S>(
        self: &Arc<Self>,
        id: UploadId,
        n: u64,
        body: S,
    ) -> Result<ChunkOutcome>
    where
        S: Stream<Item = Result<Bytes>>,
    {
        let stored = async {
            let mut sink = self.begin_chunk(id, n).await?;
            let mut body = std::pin::pin!(body);
            while let Some(piece) = body.next().await {
                match piece {
                    Ok(b) => sink.write(b).await?,
                    Err(e) => {
                        sink.abandon().await;
                        return Err(e);
                    }
                }
            }
            self.finish_chunk(id, n as u32, sink).await
        };
        match stored.await {
            // A storage error while the session was cancelled or swept under us is a 404.
            Err(ServiceError::Blob(e)) => {
                let gone = self
                    .blocking(move |q| Ok(q.store.session(id)?.is_none()))
                    .await
                    .unwrap_or(false);
                Err(if gone {
                    ServiceError::UploadNotFound
                } else {
                    ServiceError::Blob(e)
                })
            }
            r => r,
        }
    }

    /// Checks the session and the room for a chunk, and opens the sink its bytes go to.
    async fn begin_chunk(self: &Arc<Self>, id: UploadId, n: u64) -> Result<ChunkSink> {
        self.blocking(move |q| {
            let session = q.store.session(id)?.ok_or(ServiceError::UploadNotFound)?;
            if n >= session.total_chunks as u64 {
                return Err(ServiceError::ChunkOutOfRange(session.total_chunks));
            }
            let limit = session.chunk_size + CHUNK_SLACK;
            q.check_room(limit)?;
            Ok(q.blobs.chunk_sink(session.blob, n as u32, limit))
        })
        .await
    }

    /// Records a chunk whose bytes are durable on disk; the losing file of a duplicate is
    /// removed.
    async fn finish_chunk(
        self: &Arc<Self>,
        id: UploadId,
        n: u32,
        sink: ChunkSink,
    ) -> Result<ChunkOutcome> {
        if sink.received() == 0 {
            drop(sink);
            return Err(ServiceError::NoChunk);
        }
        let written = sink.finish().await?;
        let rec = ChunkRecord {
            len: written.len,
            sha256: written.sha256,
            token: written.token,
        };
        let now = self.now();
        let (put, total) = self
            .blocking(move |q| {
                let put = q.store.put_chunk(id, n, &rec, now)?;
                let session = q.store.session(id)?;
                let total = session.as_ref().map(|s| s.total_chunks).unwrap_or(0);
                match (&put, session) {
                    (ChunkPut::Inserted { .. }, Some(s)) => {
                        q.blobs.remember_chunk(s.blob, n, written.map)
                    }
                    (ChunkPut::Same { .. } | ChunkPut::Conflict, Some(s)) => {
                        q.blobs.remove_chunk(s.blob, n, rec.token)
                    }
                    // The session was completed, cancelled or swept while the body streamed;
                    // its directory is gone or owned by a clip, and the sweeper removes strays.
                    _ => {}
                }
                Ok((put, total))
            })
            .await?;
        match put {
            ChunkPut::Inserted { received } => {
                self.store.flush().await?;
                Ok(ChunkOutcome { n, received, total })
            }
            ChunkPut::Same { received } => {
                // A concurrent identical PUT may have inserted it a moment ago: it is
                // acknowledged only once on disk too (group commit makes this cheap).
                self.store.flush().await?;
                Ok(ChunkOutcome { n, received, total })
            }
            ChunkPut::Conflict => Err(ServiceError::ChunkConflict),
            ChunkPut::NoSession => Err(ServiceError::UploadNotFound),
        }
    }

    /// Progress of a session, listing the chunks received so a client can resume.
    pub async fn status(self: &Arc<Self>, id: UploadId) -> Result<Status> {
        self.blocking(move |q| {
            let session = q.store.session(id)?.ok_or(ServiceError::UploadNotFound)?;
            let received = q.store.chunks(id)?;
            Ok(Status { session, received })
        })
        .await
    }

    /// Cancels a session and deletes its chunks.
    pub async fn cancel(self: &Arc<Self>, id: UploadId) -> Result<()> {
        let session = self
            .blocking(move |q| Ok(q.store.remove_session(id)?))
            .await?
            .ok_or(ServiceError::UploadNotFound)?;
        self.store.flush().await?;
        // The session is gone either way; chunks left behind (a store that is down) are
        // the sweeper's to remove, so the cancel still succeeds.
        self.blocking(move |q| {
            if let Err(e) = q.blobs.remove_dir(session.blob) {
                tracing::warn!(error = %e, "could not remove a cancelled upload's chunks; the sweeper will");
            }
            Ok(())
        })
        .await
    }

    /// Turns a complete session into a clip. The size is computed from the stored chunks,
    /// every chunk must be present and intact, and the clip's lifetime starts now.
    pub async fn complete(
        self: &Arc<Self>,
        id: UploadId,
        req: CompleteRequest,
    ) -> Result<Completed> {
        match self.complete_clip(id, req, false).await {
            // An upload into a box that is gone can never complete: its session and files
            // go now rather than after the idle time.
            Err(e @ (ServiceError::DropboxNotFound | ServiceError::DropboxExpired)) => {
                let _ = self.cancel(id).await;
                Err(e)
            }
            other => other,
        }
    }

    /// [`Qopy::complete`], marking the clip as unencrypted when `plaintext` (one-shot uploads).
    pub(super) async fn complete_clip(
        self: &Arc<Self>,
        id: UploadId,
        req: CompleteRequest,
        plaintext: bool,
    ) -> Result<Completed> {
        if let Some(h) = &req.access_hash {
            if !super::access::is_access_hash(h) {
                return Err(ServiceError::Validation(
                    "accessCodeHash must be 128 hexadecimal characters".into(),
                ));
            }
        }
        let _permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| ServiceError::Task(e.to_string()))?;
        let (clip, target) = self
            .blocking(move |q| {
                for _attempt in 0..16 {
                    let session = q.store.session(id)?.ok_or(ServiceError::UploadNotFound)?;
                    if session.received < session.total_chunks {
                        let have: Vec<u32> =
                            q.store.chunks(id)?.into_iter().map(|(n, _)| n).collect();
                        let missing: Vec<u32> = (0..session.total_chunks)
                            .filter(|n| have.binary_search(n).is_err())
                            .collect();
                        if !missing.is_empty() {
                            return Err(ServiceError::Incomplete(missing));
                        }
                        continue; // the last chunks arrived meanwhile
                    }
                    let size = session.received_bytes;
                    let text = session.kind == ContentKind::Text;
                    if size > q.max_content_size(text) {
                        return Err(ServiceError::TooLarge(q.max_content_size(text)));
                    }
                    // The declared size binds: no more bytes than the client announced.
                    if let Some(declared) = session.declared_size.filter(|d| size > *d) {
                        return Err(ServiceError::TooLarge(declared));
                    }
                    // Every chunk file, mapped when it was written (or mapped and checked
                    // now), becomes the clip's content; the maps are kept for downloads.
                    q.adopt_content(session.blob, id, session.total_chunks, size)?;
                    let now = q.now();
                    let target = session.dropbox.as_ref().map(|d| d.dropbox);
                    let expires_at = match target {
                        Some(box_id) => q.item_expiry(&box_id, &req, now)?,
                        None => now + session.lifetime_ms,
                    };
                    let access = if session.quick_share {
                        None
                    } else {
                        req.access_hash.as_deref().map(|h| q.make_guard(h))
                    };
                    let id_len = if session.quick_share {
                        QUICK_ID_LEN
                    } else {
                        ENHANCED_ID_LEN
                    };
                    let clip = ClipMeta {
                        id: ClipId::random(id_len),
                        kind: session.kind,
                        filename: session.filename,
                        mime: session.mime,
                        size,
                        created_at: now,
                        expires_at,
                        max_downloads: session.max_downloads,
                        quick_share: session.quick_share,
                        plaintext,
                        access,
                        blob: session.blob,
                        upload: id,
                        chunk_count: session.total_chunks,
                    };
                    match q.store.complete(id, &clip, now)? {
                        Ok(()) => return Ok((clip, target)),
                        Err(CompleteRefused::NoSession) => {
                            return Err(ServiceError::UploadNotFound)
                        }
                        Err(CompleteRefused::DropboxGone) => {
                            return Err(ServiceError::DropboxNotFound)
                        }
                        Err(CompleteRefused::DropboxExpired) => {
                            return Err(ServiceError::DropboxExpired)
                        }
                        // A new ID on collision; a fresh read when chunks changed under us.
                        Err(CompleteRefused::Collision) | Err(CompleteRefused::Changed) => continue,
                    }
                }
                Err(ServiceError::Task(
                    "could not complete after repeated conflicts".into(),
                ))
            })
            .await?;
        self.store.flush().await?;
        let clip = Arc::new(clip);
        self.cache.insert_new(clip.clone());
        self.sweeper_wake.notify_one();
        if let Some(box_id) = target {
            // Durable now: the box's long polls may list it.
            self.wake_dropbox(&box_id);
        }
        tracing::info!(clip = %clip.id.redacted(), size = clip.size, chunks = clip.chunk_count, "upload completed");
        Ok(Completed { clip })
    }
}

fn is_printable(s: &str) -> bool {
    s.bytes().all(|c| (0x20..0x7f).contains(&c))
}
