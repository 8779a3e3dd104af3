//! Drop boxes: a receiver makes one (its public key, an expiry, limits) and gets an owner
//! token; senders put items in through ordinary upload sessions that name the box (a place is
//! reserved at initiate and becomes an item at complete, see `drop_send` and `upload`); the
//! owner lists the items, long-polling for new ones, and deletes them or the whole box. Items
//! are clips that expire with their box. Long polls wait on a per-box notification woken by a
//! completion, a bounded number of them per box and in all (`drop_waiters`), and answer at
//! once when shutdown starts.

use super::{Qopy, Result, ServiceError};
use crate::model::{BoxId, ClipId, DropBox, DropItem};
use crate::store::{BoxRemoval, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Most items one listing answers with.
pub const ITEMS_PER_ANSWER: usize = 200;
/// The longest a listing waits for an item.
pub const MAX_WAIT: Duration = Duration::from_secs(25);

/// What a receiver asks for (already parsed from JSON; limits at least 1).
#[derive(Debug, Clone, Default)]
pub struct DropboxRequest {
    /// The receiver's public key, 65 bytes when valid.
    pub public_key: Vec<u8>,
    /// Expiry name; the default expiry when absent.
    pub expiration: Option<String>,
    /// Byte limit asked for (capped by `dropbox_max_bytes`).
    pub max_bytes: Option<u64>,
    /// Item limit asked for (capped by `dropbox_max_items`).
    pub max_items: Option<u64>,
}

/// A new box.
#[derive(Debug, Clone)]
pub struct DropboxCreated {
    /// Its ID.
    pub id: BoxId,
    /// The owner token, given once: only its hash is kept.
    pub owner_token: String,
    /// The stored box.
    pub dropbox: DropBox,
}

/// One listing of a box's items.
#[derive(Debug, Clone)]
pub struct DropItems {
    /// The items after the one asked from, in order.
    pub items: Vec<DropItem>,
    /// The sequence number of the last item listed, or the one asked from.
    pub next: u64,
    /// When the box expires.
    pub expires_at: u64,
}

/// Checks an owner token against a box in constant time.
fn check_owner(b: &DropBox, token: Option<&str>) -> Result<()> {
    let token = token.ok_or(ServiceError::OwnerRequired)?;
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if bool::from(hash.ct_eq(&b.owner_hash)) {
        Ok(())
    } else {
        Err(ServiceError::OwnerRequired)
    }
}

/// A capped limit: absent is the cap, zero is refused, more than the cap is the cap.
fn capped(asked: Option<u64>, cap: u64, field: &str) -> Result<u64> {
    match asked {
        Some(0) => Err(ServiceError::Validation(format!(
            "{field} must be at least 1"
        ))),
        Some(n) => Ok(n.min(cap)),
        None => Ok(cap),
    }
}

impl Qopy {
    /// Makes a drop box.
    pub async fn create_dropbox(self: &Arc<Self>, req: DropboxRequest) -> Result<DropboxCreated> {
        crate::v4::wrap::parse_public_key(&req.public_key).map_err(|e| {
            ServiceError::InvalidPublicKey(match e {
                crate::v4::wrap::WrapError::BadPublicKey(why) => why.to_string(),
                other => other.to_string(),
            })
        })?;
        let lifetime = self.lifetime_of(req.expiration.as_deref())?;
        let cfg = &self.config;
        let max_bytes = capped(req.max_bytes, cfg.dropbox_max_bytes, "maxBytes")?;
        let max_items = capped(req.max_items, cfg.dropbox_max_items, "maxItems")?;
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let owner_token = hex::encode(raw);
        let now = self.now();
        let dropbox = DropBox {
            public_key: req.public_key,
            owner_hash: Sha256::digest(owner_token.as_bytes()).into(),
            created_at: now,
            expires_at: now + lifetime,
            max_bytes,
            max_items: u32::try_from(max_items).unwrap_or(u32::MAX),
            items: 0,
            reserved: 0,
            used_bytes: 0,
            last_seq: 0,
        };
        let b = dropbox.clone();
        let id = self
            .blocking(move |q| loop {
                let id = BoxId::random();
                if q.store.create_dropbox(&id, &b)? {
                    return Ok(id);
                }
            })
            .await?;
        self.store.flush().await?;
        // The sweeper learns the new deadline.
        self.sweeper_wake.notify_one();
        tracing::info!(dropbox = %id.redacted(), "drop box created");
        Ok(DropboxCreated {
            id,
            owner_token,
            dropbox,
        })
    }

    /// A live box, for anyone who knows its ID.
    pub async fn dropbox_info(self: &Arc<Self>, id: BoxId) -> Result<DropBox> {
        let b = self
            .blocking(move |q| Ok(q.store.dropbox(&id)?))
            .await?
            .ok_or(ServiceError::DropboxNotFound)?;
        if b.expired(self.now()) {
            return Err(ServiceError::DropboxExpired);
        }
        Ok(b)
    }

    /// A box, if `owner` is its owner token. Blocking.
    fn owned_box(&self, id: &BoxId, owner: Option<&str>) -> Result<DropBox> {
        let b = self
            .store
            .dropbox(id)?
            .ok_or(ServiceError::DropboxNotFound)?;
        check_owner(&b, owner)?;
        Ok(b)
    }

    /// Deletes a box with its items and their clips (an expired one too).
    pub async fn delete_dropbox(self: &Arc<Self>, id: BoxId, owner: Option<String>) -> Result<()> {
        self.blocking(move |q| {
            q.owned_box(&id, owner.as_deref())?;
            q.remove_dropbox_now(&id)?;
            Ok(())
        })
        .await?;
        self.store.flush().await?;
        self.drop_waiters.wake(&id);
        tracing::info!(dropbox = %id.redacted(), "drop box deleted");
        Ok(())
    }

    /// Deletes one item of a box and its clip.
    pub async fn delete_drop_item(
        self: &Arc<Self>,
        id: BoxId,
        owner: Option<String>,
        clip: ClipId,
    ) -> Result<()> {
        self.blocking(move |q| {
            q.owned_box(&id, owner.as_deref())?;
            let removed = q
                .store
                .remove_drop_item(&id, &clip)?
                .ok_or(ServiceError::DropItemNotFound)?;
            q.forget_clips(&removed);
            Ok(())
        })
        .await?;
        self.store.flush().await.map_err(ServiceError::from)
    }

    /// The items of a box after `after`. With none and a `wait`, waits (at most
    /// [`MAX_WAIT`]) until one completes, the time passes or shutdown starts, then answers
    /// with what there is; a poll beyond the waiters' caps answers at once.
    pub async fn drop_items(
        self: &Arc<Self>,
        id: BoxId,
        owner: Option<String>,
        after: u64,
        wait: Duration,
    ) -> Result<DropItems> {
        let first = self.read_items(id, owner.clone(), after).await?;
        if !first.items.is_empty() || wait.is_zero() || self.stopping.is_cancelled() {
            return Ok(first);
        }
        let Some(slot) = self.drop_waiters.join(id) else {
            return Ok(first);
        };
        let notify = slot.notify.clone();
        let mut notified = std::pin::pin!(notify.notified());
        // Registered before looking again, so a completion between the two reads is not
        // missed.
        notified.as_mut().enable();
        let again = self.read_items(id, owner.clone(), after).await?;
        if !again.items.is_empty() {
            return Ok(again);
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(wait.min(MAX_WAIT)) => {}
            _ = self.stopping.cancelled() => {}
        }
        drop(slot);
        self.read_items(id, owner, after).await
    }

    /// One listing, checking the owner and the expiry; no write, no flush.
    async fn read_items(
        self: &Arc<Self>,
        id: BoxId,
        owner: Option<String>,
        after: u64,
    ) -> Result<DropItems> {
        self.blocking(move |q| {
            let b = q.owned_box(&id, owner.as_deref())?;
            if b.expired(q.now()) {
                return Err(ServiceError::DropboxExpired);
            }
            let items = q.store.drop_items(&id, after, ITEMS_PER_ANSWER)?;
            Ok(DropItems {
                next: items.last().map_or(after, |i| i.seq),
                items,
                expires_at: b.expires_at,
            })
        })
        .await
    }

    /// Removes a box, its items and their clips and files. Blocking.
    pub(super) fn remove_dropbox_now(&self, id: &BoxId) -> std::result::Result<bool, StoreError> {
        let Some(removed) = self.store.remove_dropbox(id)? else {
            return Ok(false);
        };
        self.forget_clips(&removed);
        Ok(true)
    }

    /// After a removal: the clips are gone for the cache too, and their files go.
    fn forget_clips(&self, removed: &BoxRemoval) {
        let now = self.now();
        for clip in &removed.clips {
            self.cache.mark_gone(&clip.id, now);
            if let Err(e) = self.blobs.remove_dir(clip.blob) {
                tracing::warn!(error = %e, "could not remove an item's files; the sweeper will");
            }
        }
    }

    /// Wakes the long polls of a box (an item completed).
    pub(super) fn wake_dropbox(&self, id: &BoxId) {
        self.drop_waiters.wake(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_to_and_are_capped_by_the_configuration() {
        assert_eq!(capped(None, 10, "x").unwrap(), 10);
        assert_eq!(capped(Some(3), 10, "x").unwrap(), 3);
        assert_eq!(capped(Some(30), 10, "x").unwrap(), 10);
        assert!(capped(Some(0), 10, "x").is_err());
    }

    #[test]
    fn owner_tokens_are_checked() {
        let b = DropBox {
            public_key: vec![],
            owner_hash: Sha256::digest(b"right").into(),
            created_at: 0,
            expires_at: 1,
            max_bytes: 1,
            max_items: 1,
            items: 0,
            reserved: 0,
            used_bytes: 0,
            last_seq: 0,
        };
        assert!(check_owner(&b, Some("right")).is_ok());
        assert!(matches!(
            check_owner(&b, Some("wrong")),
            Err(ServiceError::OwnerRequired)
        ));
        assert!(matches!(
            check_owner(&b, None),
            Err(ServiceError::OwnerRequired)
        ));
    }
}
