//! Reading clips: metadata for the info and descriptor routes (which never consume), and the
//! content download, which consumes a one-time clip with exactly one winner among concurrent
//! downloaders, durably, before the first byte is sent.

use super::{Qopy, Result, ServiceError};
use crate::model::{ClipId, ClipMeta};
use bytes::Bytes;
use std::sync::Arc;

/// A download ready to stream: the clip and its content as zero-copy slices of the mapped
/// chunk files, in order.
pub struct Download {
    /// The clip (for headers).
    pub clip: Arc<ClipMeta>,
    /// The content, chunk by chunk.
    pub parts: Vec<Bytes>,
}

impl Download {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.parts.iter().map(|b| b.len() as u64).sum()
    }

    /// True for empty content.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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

    /// Prepares the content download of a clip. For a one-time clip this is the consuming
    /// step: the record is removed in a transaction (only one caller can win it) and the
    /// removal is flushed to disk before this returns, so a crash cannot bring it back.
    pub async fn download(self: &Arc<Self>, id: ClipId, code: Option<String>) -> Result<Download> {
        let clip = self.live_clip(&id).await?;
        self.check_access(&clip, code.as_deref())?;
        let _permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| ServiceError::Task(e.to_string()))?;
        let c = clip.clone();
        let parts = self
            .blocking(move |q| q.clip_maps(&c).map(|m| m.to_vec()))
            .await?;
        if clip.one_time {
            self.cache.mark_gone(&clip.id, self.now());
            let c = clip.clone();
            let won = self.blocking(move |q| Ok(q.store.remove_clip(&c)?)).await?;
            if !won {
                return Err(ServiceError::Consumed);
            }
            self.store.flush().await?;
            // The maps keep the content readable; the files can go now.
            let blob = clip.blob;
            self.blocking(move |q| {
                if let Err(e) = q.blobs.remove_dir(blob) {
                    tracing::warn!(error = %e, "could not remove consumed clip's files; the sweeper will");
                }
                Ok(())
            })
            .await?;
        } else if self.now() >= clip.expires_at {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let id = clip.id;
        let one_time = clip.one_time;
        // Counted off the request path; the task holds the core, so shutdown waits for it.
        let q = self.clone();
        self.tasks.spawn_blocking(move || {
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
        Ok(Download { clip, parts })
    }
}
