//! Reading clips: metadata for the info and descriptor routes (which never consume), and the
//! content download. A download of a clip with a download limit (one-time clips have the
//! limit 1) *claims* one of its downloads, durably, before the first byte is sent; only as
//! many readers as the limit allows ever win, however many race. The claimant gets a token
//! with which it may resume (`Range`) within `claim_window`; the claim ends when the
//! claimant has been sent the last byte or when the window closes, and the clip is deleted
//! when its last claim has ended.

use super::{Qopy, Result, ServiceError};
use crate::blobs::{BlobError, Content};
use crate::model::{Claim, Claims, ClipId, ClipMeta};
use crate::store::{ClaimTaken, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A download ready to stream: the clip and its content (zero-copy slices of the mapped
/// chunk files, or the chunk objects of a bucket), in order.
pub struct Download {
    /// The clip (for headers).
    pub clip: Arc<ClipMeta>,
    /// The content.
    pub content: Content,
    /// The claim this download is part of, for a clip with a download limit.
    pub claim: Option<ClaimTicket>,
}

impl Download {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.content.len()
    }

    /// True for empty content.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A claim on one download of a limited clip, held by a download in progress.
pub struct ClaimTicket {
    /// The token to give the reader: only on the answer that took the claim.
    pub new_token: Option<String>,
    token_hash: [u8; 32],
    clip: Arc<ClipMeta>,
    qopy: Arc<Qopy>,
    /// The answer is over (see [`ClaimTicket::answer_over`]).
    over: bool,
}

impl ClaimTicket {
    /// Ends the claim once `received` says its reader has received the last byte (true),
    /// in the background, and deletes the clip when it was its last claim. When `received`
    /// says false, or shutdown comes first, the claim stays open: its reader may resume, and
    /// its window ends it otherwise.
    pub fn finish_when(
        mut self,
        received: impl std::future::Future<Output = bool> + Send + 'static,
    ) {
        self.answer_over();
        let q = self.qopy.clone();
        let tasks = self.qopy.tasks.clone();
        tasks.spawn(async move {
            let received = tokio::select! {
                r = received => r,
                _ = q.closing.cancelled() => false,
            };
            if !received {
                return;
            }
            let hash = self.token_hash;
            let clip = self.clip.clone();
            let r = q
                .blocking(move |q| Ok(q.end_claims(&clip, |c| c.token_hash == hash, true)?))
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not end a download claim; its window will");
            }
        });
    }
}

impl Drop for ClaimTicket {
    fn drop(&mut self) {
        self.answer_over();
    }
}

impl ClaimTicket {
    /// The answer is over (sent, or cut): the claim's window starts again from now, so a
    /// download that took longer than the window can still be resumed when it breaks.
    fn answer_over(&mut self) {
        if std::mem::replace(&mut self.over, true) {
            return;
        }
        let (q, hash) = (&self.qopy, self.token_hash);
        // One small write to one record, not flushed: done here, before the answer stops
        // counting as being sent, so that the window never closes in between.
        let until = q.now() + q.config.claim_window.as_millis() as u64;
        if let Err(e) = q.store.extend_claim(&self.clip.id, &hash, until) {
            tracing::warn!(error = %e, "could not extend a download claim's window");
        }
        let mut streaming = q.streaming.lock();
        if let Some(n) = streaming.get_mut(&hash) {
            *n -= 1;
            if *n == 0 {
                streaming.remove(&hash);
            }
        }
    }
}

/// The stored form of a claim token: its SHA-256.
fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Qopy {
    /// A clip's metadata after its access code is checked (`POST /api/clip/:id`).
    pub async fn open_clip(
        self: &Arc<Self>,
        id: &ClipId,
        code: Option<&str>,
    ) -> Result<Arc<ClipMeta>> {
        let clip = self.live_clip(id).await?;
        self.check_access(&clip, code)?;
        Ok(clip)
    }

    /// How many downloads a clip with a download limit has left (`None`: no limit).
    pub async fn downloads_left(self: &Arc<Self>, clip: &ClipMeta) -> Result<Option<u32>> {
        let Some(max) = clip.max_downloads else {
            return Ok(None);
        };
        let id = clip.id;
        let c = self.blocking(move |q| Ok(q.store.claims(&id)?)).await?;
        Ok(Some(max.saturating_sub(c.taken)))
    }

    /// Prepares the content download of a clip. For a clip with a download limit, without
    /// `token` this takes a claim (refused once the limit is reached) and flushes it before
    /// returning; with the token of an open claim it resumes that claim's download.
    pub async fn download(
        self: &Arc<Self>,
        id: ClipId,
        code: Option<String>,
        token: Option<String>,
    ) -> Result<Download> {
        let clip = match token {
            // The claimant passes the cache's tombstone: the downloads are claimed, by it.
            Some(_) => {
                self.blocking(move |q| {
                    let clip = q.store.clip(&id)?.ok_or(ServiceError::NotFound)?;
                    if q.now() >= clip.expires_at {
                        return Err(ServiceError::NotFound);
                    }
                    Ok(Arc::new(clip))
                })
                .await?
            }
            None => self.live_clip(&id).await?,
        };
        self.check_access(&clip, code.as_deref())?;
        let content = {
            // Mapping is the heavy blocking work; the store's check below waits on the
            // network and must not hold up completes behind a slow store.
            let _permit = self
                .heavy
                .acquire()
                .await
                .map_err(|e| ServiceError::Task(e.to_string()))?;
            let c = clip.clone();
            self.blocking(move |q| q.clip_content(&c)).await?
        };
        // A store that cannot serve the content now answers (for its first chunk) before a
        // claim is taken or a byte promised: the reader can simply try again.
        content.check().await.map_err(|e| match e {
            BlobError::Damaged(_) => ServiceError::ContentMissing,
            e => e.into(),
        })?;
        let claim = match (clip.max_downloads, token) {
            (None, _) => None,
            (Some(_), Some(token)) => Some(self.resume_claim(&clip, &token).await?),
            (Some(max), None) => Some(self.take_claim(&clip, max).await?),
        };
        if self.now() >= clip.expires_at {
            return Err(ServiceError::NotFound);
        }
        let resumed = claim.as_ref().is_some_and(|c| c.new_token.is_none());
        if !resumed {
            self.count_access(&clip);
        }
        Ok(Download {
            clip,
            content,
            claim,
        })
    }

    /// Counts a download, off the request path; the task holds the core, so shutdown waits.
    fn count_access(self: &Arc<Self>, clip: &ClipMeta) {
        let (now, id, one_time) = (self.now(), clip.id, clip.one_time());
        let q = self.clone();
        self.tasks.spawn_blocking(move || {
            // A one-time clip's record goes with its download: only the total is kept.
            let r = if one_time {
                q.store
                    .add_counter(crate::store::counter::TOTAL_ACCESSES, 1)
            } else {
                q.store.record_access(&id, now)
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not record access");
            }
        });
    }

    /// Takes one of the downloads of `clip` and makes it durable before the first byte.
    async fn take_claim(self: &Arc<Self>, clip: &Arc<ClipMeta>, max: u32) -> Result<ClaimTicket> {
        let mut raw = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let claim_hash = token_hash(&token);
        let claim = Claim {
            token_hash: claim_hash,
            until: self.now() + self.config.claim_window.as_millis() as u64,
        };
        let c = clip.clone();
        let taken = self
            .blocking(move |q| Ok(q.store.take_claim(&c, max, claim)?))
            .await?;
        match taken {
            ClaimTaken::Won(claims) => {
                if claims.exhausted(max) {
                    self.cache.mark_gone(&clip.id, self.now());
                }
                self.store.flush().await?;
                // The window's end is a deadline the sweeper must wake for.
                self.sweeper_wake.notify_one();
                Ok(self.ticket(clip, claim_hash, Some(token)))
            }
            ClaimTaken::Exhausted => {
                self.cache.mark_gone(&clip.id, self.now());
                Err(ServiceError::Consumed)
            }
            ClaimTaken::NoClip => Err(ServiceError::NotFound),
        }
    }

    /// The open claim `token` names, if its window has not closed.
    async fn resume_claim(
        self: &Arc<Self>,
        clip: &Arc<ClipMeta>,
        token: &str,
    ) -> Result<ClaimTicket> {
        let hash = token_hash(token);
        let id = clip.id;
        let claims = self.blocking(move |q| Ok(q.store.claims(&id)?)).await?;
        let now = self.now();
        // Open, and within its window or with an answer still being sent (whose end starts
        // the window again).
        if !claims
            .open
            .iter()
            .any(|c| c.token_hash == hash && (now < c.until || self.streaming(&hash)))
        {
            return Err(ServiceError::NotFound);
        }
        Ok(self.ticket(clip, hash, None))
    }

    /// A ticket for an answer of the claim `hash`; while it lives, the claim's window does
    /// not end (see [`ClaimTicket`]'s `Drop`).
    fn ticket(
        self: &Arc<Self>,
        clip: &Arc<ClipMeta>,
        hash: [u8; 32],
        token: Option<String>,
    ) -> ClaimTicket {
        *self.streaming.lock().entry(hash).or_insert(0) += 1;
        ClaimTicket {
            token_hash: hash,
            new_token: token,
            clip: clip.clone(),
            qopy: self.clone(),
            over: false,
        }
    }

    /// Whether an answer of the claim `hash` is being sent now.
    pub(super) fn streaming(&self, hash: &[u8; 32]) -> bool {
        self.streaming.lock().contains_key(hash)
    }

    /// Ends the open claims of `clip` that `ends` selects, as downloads that happened
    /// (`counted`) or not (given back, so the clip is there again for others), and deletes
    /// the clip when no download is left and none is open. Blocking.
    pub(super) fn end_claims(
        &self,
        clip: &ClipMeta,
        ends: impl Fn(&Claim) -> bool,
        counted: bool,
    ) -> std::result::Result<Option<Claims>, StoreError> {
        let Some(left) = self.store.end_claims(&clip.id, ends, counted)? else {
            return Ok(None);
        };
        let max = clip.max_downloads.unwrap_or(0);
        if left.finished(max) {
            self.remove_clip(clip)?;
            self.store.flush_blocking()?;
        } else if !left.exhausted(max) {
            // Replaces the tombstone its last claim left.
            self.cache.insert_new(Arc::new(clip.clone()));
        }
        Ok(Some(left))
    }

    /// Removes a clip, its records and its files (tombstoned in the cache first); false when
    /// it was already gone. Blocking.
    pub(super) fn remove_clip(&self, clip: &ClipMeta) -> std::result::Result<bool, StoreError> {
        self.cache.mark_gone(&clip.id, self.now());
        if !self.store.remove_clip(clip)? {
            return Ok(false);
        }
        if let Err(e) = self.blobs.remove_dir(clip.blob) {
            tracing::warn!(error = %e, "could not remove a clip's files; the sweeper will");
        }
        Ok(true)
    }
}
