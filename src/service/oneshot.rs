//! One-shot uploads (`curl -T file host/`, `curl -F file=@x host/`, a pipe): the body is
//! streamed into chunk files of the configured chunk size through an ordinary upload session
//! (so the session owns the files while they are written, the sweeper treats them like any
//! other upload, and the storage accounting is the same), then the session is sealed with
//! the number of chunks actually received and completed into a clip marked `plaintext`.
//! Nothing holds the whole body in memory. Any failure cancels the session, which removes
//! its files.

use super::{Qopy, Result, ServiceError, QUICK_SHARE_LIFETIME_MS};
use crate::model::{BlobDir, ClipMeta, ContentKind, UploadId, UploadSession};
use crate::names::NameError;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::sync::Arc;

/// What a one-shot upload asks for (already parsed from headers and query).
#[derive(Debug, Clone, Default)]
pub struct OneShotRequest {
    /// File name from the path or the multipart part, if any, as the client sent it (the
    /// service applies [`crate::names::sanitize`]).
    pub filename: Option<String>,
    /// MIME type the client declared, if any (generic types are ignored).
    pub mime: Option<String>,
    /// Expiry name, if given.
    pub expiry: Option<String>,
    /// The download limit (`Some(1)`: one-time).
    pub max_downloads: Option<u32>,
    /// Quick Share (6-character ID, 5 minutes).
    pub quick_share: bool,
    /// The declared body length, when the client sent one.
    pub content_length: Option<u64>,
}

/// Cancels a one-shot session when dropped while armed.
struct CancelOnDrop(Option<(Arc<Qopy>, UploadId)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((q, id)) = self.0.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                // Tracked: shutdown waits for it like for other work holding the core.
                let tasks = q.tasks.clone();
                tasks.spawn_on(
                    async move {
                        let _ = q.cancel(id).await;
                    },
                    &rt,
                );
            }
        }
    }
}

/// Bytes kept from the start of the body to guess its type.
const SNIFF_LEN: usize = 4096;

/// The body of a one-shot upload, cut into chunks: it counts and limits the bytes, keeps the
/// first ones to guess the type, and keeps what was read past a chunk's end for the next.
struct Source<S> {
    body: S,
    leftover: Option<Bytes>,
    total: u64,
    limit: u64,
    head: Vec<u8>,
}

impl<S: Stream<Item = Result<Bytes>> + Unpin> Source<S> {
    /// The next non-empty piece of the body.
    async fn next_piece(&mut self) -> Option<Result<Bytes>> {
        if let Some(b) = self.leftover.take() {
            return Some(Ok(b));
        }
        loop {
            let piece = match self.body.next().await? {
                Ok(p) if p.is_empty() => continue,
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            self.total += piece.len() as u64;
            if self.total > self.limit {
                return Some(Err(ServiceError::TooLarge(self.limit)));
            }
            if self.head.len() < SNIFF_LEN {
                let take = piece.len().min(SNIFF_LEN - self.head.len());
                self.head.extend_from_slice(&piece[..take]);
            }
            return Some(Ok(piece));
        }
    }

    /// Whether any byte is left.
    async fn has_more(&mut self) -> Result<bool> {
        match self.next_piece().await {
            None => Ok(false),
            Some(Err(e)) => Err(e),
            Some(Ok(b)) => {
                self.leftover = Some(b);
                Ok(true)
            }
        }
    }

    /// The next `len` bytes (or fewer, at the end) as a stream of pieces.
    fn chunk(&mut self, len: u64) -> impl Stream<Item = Result<Bytes>> + Send + '_
    where
        S: Send,
    {
        futures_util::stream::unfold((self, len), |(src, left)| async move {
            if left == 0 {
                return None;
            }
            match src.next_piece().await? {
                Err(e) => Some((Err(e), (src, 0))),
                Ok(mut b) => {
                    if b.len() as u64 > left {
                        src.leftover = Some(b.split_off(left as usize));
                    }
                    let rest = left - b.len() as u64;
                    Some((Ok(b), (src, rest)))
                }
            }
        })
    }
}

impl Qopy {
    /// The largest one-shot body: the configured maximum file size (no crypto overhead).
    pub fn max_oneshot_size(&self) -> u64 {
        self.config.max_file_size
    }

    /// Stores a one-shot upload from `body` and returns the new clip.
    pub async fn oneshot<S>(self: &Arc<Self>, req: OneShotRequest, body: S) -> Result<Arc<ClipMeta>>
    where
        S: Stream<Item = Result<Bytes>> + Unpin + Send,
    {
        let cfg = &self.config;
        let limit = self.max_oneshot_size();
        if req.content_length.is_some_and(|l| l > limit) {
            return Err(ServiceError::TooLarge(limit));
        }
        // The name rule of initiate; a name it leaves nothing of is no name (a default is
        // made from the content), a name too long is refused.
        let mut req = req;
        req.filename = match req.filename.as_deref().map(crate::names::sanitize) {
            None | Some(Err(NameError::Empty)) => None,
            Some(Ok(name)) => Some(name),
            Some(Err(e @ NameError::TooLong)) => {
                return Err(ServiceError::Validation(format!("the file name {e}")))
            }
        };
        let lifetime_ms = if req.quick_share {
            QUICK_SHARE_LIFETIME_MS
        } else {
            let name = req.expiry.as_deref().unwrap_or(&cfg.default_expiry);
            cfg.expiry_ms(name).ok_or_else(|| {
                let names: Vec<&str> = cfg.expiry_options.iter().map(|(n, _)| n.as_str()).collect();
                ServiceError::Validation(format!("expiry must be one of {}", names.join(", ")))
            })?
        };
        let now = self.now();
        let session = UploadSession {
            filename: "upload".into(),
            mime: "application/octet-stream".into(),
            kind: ContentKind::File,
            total_chunks: limit.div_ceil(cfg.chunk_size).max(1) as u32,
            chunk_size: cfg.chunk_size,
            lifetime_ms,
            max_downloads: req.max_downloads,
            quick_share: req.quick_share,
            has_password: false,
            blob: BlobDir::random(),
            created_at: now,
            last_activity: now,
            received: 0,
            received_bytes: 0,
            declared_size: None,
            dropbox: None,
        };
        let room = req.content_length.unwrap_or(cfg.chunk_size);
        let id = self.create_session(session, room).await?;
        let mut src = Source {
            body,
            leftover: None,
            total: 0,
            limit,
            head: Vec::new(),
        };
        // Cancels the session if this future is dropped midway (the connection was torn
        // down), so its chunk files do not wait for the idle-session sweep.
        let mut guard = CancelOnDrop(Some((self.clone(), id)));
        let r = self.pump_oneshot(id, &req, &mut src).await;
        guard.0 = None;
        match r {
            Ok(clip) => Ok(clip),
            Err(e) => {
                match self.cancel(id).await {
                    Ok(()) | Err(ServiceError::UploadNotFound) => {}
                    Err(c) => tracing::warn!(
                        error = %c,
                        "could not cancel a failed one-shot upload; the sweeper will"
                    ),
                }
                Err(e)
            }
        }
    }

    async fn pump_oneshot<S>(
        self: &Arc<Self>,
        id: UploadId,
        req: &OneShotRequest,
        src: &mut Source<S>,
    ) -> Result<Arc<ClipMeta>>
    where
        S: Stream<Item = Result<Bytes>> + Unpin + Send,
    {
        let chunk_size = self.config.chunk_size;
        let mut n = 0u64;
        while src.has_more().await? {
            self.put_chunk(id, n, src.chunk(chunk_size)).await?;
            n += 1;
        }
        if n == 0 {
            return Err(ServiceError::Validation("the body is empty".into()));
        }
        let (filename, mime) = name_and_type(req, &src.head);
        let sealed = self
            .blocking(move |q| Ok(q.store.seal_session(id, &filename, &mime)?))
            .await?;
        if !sealed {
            return Err(ServiceError::UploadNotFound);
        }
        let done = self
            .complete_clip(id, super::CompleteRequest::default(), true)
            .await?;
        Ok(done.clip)
    }
}

/// MIME types that say nothing about the content (curl's `--data-binary` default, forms).
fn is_generic(mime: &str) -> bool {
    let base = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    base.is_empty()
        || base == "application/octet-stream"
        || base == "application/x-www-form-urlencoded"
        || base.starts_with("multipart/")
}

/// The clip's file name and MIME type: the client's when given, else guessed from the name,
/// else from the first bytes (an image format, UTF-8 text, or opaque bytes).
fn name_and_type(req: &OneShotRequest, head: &[u8]) -> (String, String) {
    let declared = req
        .mime
        .as_deref()
        .filter(|m| {
            !is_generic(m) && m.len() <= 100 && m.bytes().all(|c| (0x20..0x7f).contains(&c))
        })
        .map(str::to_string);
    let by_name = req
        .filename
        .as_deref()
        .and_then(|n| mime_guess::from_path(n).first())
        .map(|m| m.to_string());
    let sniffed = || -> (String, &'static str) {
        if let Ok(f) = image::guess_format(head) {
            let ext = f.extensions_str().first().copied().unwrap_or("img");
            let mime = f.to_mime_type().to_string();
            return (mime, ext);
        }
        let text = match std::str::from_utf8(head) {
            Ok(_) => true,
            // Cut inside a character at the sniffing boundary is still text.
            Err(e) => e.error_len().is_none(),
        };
        if text {
            ("text/plain; charset=utf-8".to_string(), "txt")
        } else {
            ("application/octet-stream".to_string(), "bin")
        }
    };
    match (&req.filename, declared.or(by_name)) {
        (Some(name), Some(mime)) => (name.clone(), mime),
        (Some(name), None) => (name.clone(), sniffed().0),
        (None, Some(mime)) => {
            let ext = mime_guess::get_mime_extensions_str(&mime)
                .and_then(|e| e.first())
                .copied()
                .unwrap_or("bin");
            (format!("upload.{ext}"), mime)
        }
        (None, None) => {
            let (mime, ext) = sniffed();
            let stem = if ext == "txt" { "paste" } else { "upload" };
            (format!("{stem}.{ext}"), mime)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{name_and_type, OneShotRequest};

    #[test]
    fn names_and_types_are_guessed() {
        let r = OneShotRequest::default();
        assert_eq!(
            name_and_type(&r, b"hello"),
            ("paste.txt".into(), "text/plain; charset=utf-8".into())
        );
        assert_eq!(
            name_and_type(&r, b"\x89PNG\r\n\x1a\n"),
            ("upload.png".into(), "image/png".into())
        );
        assert_eq!(
            name_and_type(&r, &[0xff, 0x00, 0xfe, 0x80]),
            ("upload.bin".into(), "application/octet-stream".into())
        );
        let named = OneShotRequest {
            filename: Some("a.json".into()),
            mime: Some("application/x-www-form-urlencoded".into()),
            ..Default::default()
        };
        assert_eq!(
            name_and_type(&named, b"{}"),
            ("a.json".into(), "application/json".into())
        );
    }
}
