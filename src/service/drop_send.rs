//! Sending into a drop box: the drop-box fields of an initiate checked, the session stored
//! with its place in the box reserved (one transaction), and the expiry an item gets at
//! completion (its box's). The upload routes call these from `upload`.

use super::{CompleteRequest, InitiateRequest, Qopy, Result, ServiceError};
use crate::model::{BoxId, SessionDrop, UploadId, UploadSession};
use crate::store::Reserve;
use std::sync::Arc;

/// Shortest and longest wrapped key (a wrap adds 94 bytes to the secret it carries).
const WRAPPED_KEY_LEN: std::ops::RangeInclusive<usize> = 94..=300;

impl Qopy {
    /// The drop-box part of an initiate: None without a box; with one, the wrapped key is
    /// required and checked, the size must be declared (it is the place reserved), and the
    /// options an item cannot have are refused. Without a box a wrapped key is refused.
    pub(super) fn drop_target(&self, req: &InitiateRequest) -> Result<Option<SessionDrop>> {
        let Some(name) = &req.dropbox else {
            if req.wrapped_key.is_some() {
                return Err(ServiceError::InvalidWrappedKey(
                    "wrappedKey is only for sending into a drop box".into(),
                ));
            }
            return Ok(None);
        };
        let wrapped = req
            .wrapped_key
            .as_deref()
            .ok_or_else(|| ServiceError::InvalidWrappedKey("wrappedKey is required".into()))?;
        let wrapped = crate::v4::base64url_decode(wrapped)
            .filter(|w| WRAPPED_KEY_LEN.contains(&w.len()))
            .ok_or_else(|| {
                ServiceError::InvalidWrappedKey(format!(
                    "wrappedKey must be base64url without padding of {} to {} bytes",
                    WRAPPED_KEY_LEN.start(),
                    WRAPPED_KEY_LEN.end()
                ))
            })?;
        let refused = [
            (req.quick_share, "quickShare"),
            (req.has_password, "hasPassword (an access code)"),
            (req.max_downloads.is_some(), "oneTime and maxDownloads"),
        ];
        if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
            return Err(ServiceError::NotAllowedInDropbox(format!(
                "{what} cannot be used for a drop-box item"
            )));
        }
        let id = BoxId::parse(name).ok_or(ServiceError::DropboxNotFound)?;
        let reserved = req.filesize.ok_or_else(|| {
            ServiceError::Validation("filesize is required when sending into a drop box".into())
        })?;
        Ok(Some(SessionDrop {
            dropbox: id,
            wrapped_key: wrapped,
            reserved,
        }))
    }

    /// Stores a session that sends into a box, reserving its place in the same transaction,
    /// under a fresh ID; returns the ID and the box's expiry. Blocking.
    pub(super) fn insert_drop_session(
        &self,
        mut session: UploadSession,
    ) -> Result<(UploadId, u64)> {
        let Some(d) = &session.dropbox else {
            return Err(ServiceError::Task("a drop session without its box".into()));
        };
        let b = self
            .store
            .dropbox(&d.dropbox)?
            .ok_or(ServiceError::DropboxNotFound)?;
        // The item lives as long as the box; the session's lifetime only informs status.
        session.lifetime_ms = b.expires_at.saturating_sub(self.now());
        loop {
            let id = UploadId::random();
            match self.store.insert_drop_session(id, &session, self.now())? {
                Reserve::Done => return Ok((id, b.expires_at)),
                Reserve::IdTaken => continue,
                Reserve::NoBox => return Err(ServiceError::DropboxNotFound),
                Reserve::Expired => return Err(ServiceError::DropboxExpired),
                Reserve::Full(n) => return Err(ServiceError::DropboxFull(n)),
                Reserve::TooLarge(free) => return Err(ServiceError::DropboxTooLarge(free)),
            }
        }
    }

    /// [`Qopy::create_session`] for a session sending into a drop box: its place there is
    /// reserved with its record; a refused reservation leaves no directory behind. Returns
    /// the ID and the box's expiry.
    pub(super) async fn create_drop_session(
        self: &Arc<Self>,
        session: UploadSession,
        room: u64,
    ) -> Result<(UploadId, u64)> {
        self.blocking(move |q| {
            q.check_room(room)?;
            let blob = session.blob;
            q.blobs.create_dir(blob)?;
            let made = q.insert_drop_session(session);
            if made.is_err() {
                if let Err(e) = q.blobs.remove_dir(blob) {
                    tracing::warn!(error = %e, "could not remove a refused session's directory");
                }
            }
            made
        })
        .await
    }

    /// The expiry of an item completing now into box `id`: the box's, if it is live. An
    /// access code is refused (an item has none). Blocking.
    pub(super) fn item_expiry(&self, id: &BoxId, req: &CompleteRequest, now: u64) -> Result<u64> {
        if req.access_hash.is_some() {
            return Err(ServiceError::NotAllowedInDropbox(
                "an access code cannot be set on a drop-box item".into(),
            ));
        }
        let b = self
            .store
            .dropbox(id)?
            .ok_or(ServiceError::DropboxNotFound)?;
        if b.expired(now) {
            return Err(ServiceError::DropboxExpired);
        }
        Ok(b.expires_at)
    }
}
