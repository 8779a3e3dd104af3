//! Image previews of unencrypted clips: a JPEG (quality 85) that fits inside 800x600 and is
//! never enlarged, decoded with the `image` crate under limits on dimensions and allocation
//! (a small file that declares a huge image is refused before anything is allocated), on the
//! blocking pool behind a semaphore, and cached as a file in the clip's own directory, so it
//! goes when the clip goes. Encrypted clips have no preview (the server cannot read them), nor
//! do one-time and download-limited clips (a preview would show them without counting a
//! download). Previews never consume.

use super::{Qopy, Result, ServiceError};
use crate::model::ClipId;
use bytes::Bytes;
use image::{ImageError, ImageReader, Limits};
use std::io::{BufReader, Read, Seek};
use std::sync::Arc;

/// The box a preview fits in.
pub const PREVIEW_MAX: (u32, u32) = (800, 600);
/// JPEG quality of previews.
const QUALITY: u8 = 85;
/// Largest width or height decoded.
const MAX_SIDE: u32 = 12_000;
/// Most memory one decode may allocate.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

impl Qopy {
    /// The JPEG preview of a clip, from the cache or made now.
    pub async fn preview(self: &Arc<Self>, id: ClipId) -> Result<Bytes> {
        let clip = self.live_clip(&id).await?;
        if !clip.plaintext {
            return Err(ServiceError::NoPreview(
                "encrypted clips have no preview: only the recipient's browser can read them"
                    .into(),
            ));
        }
        if clip.max_downloads.is_some() {
            return Err(ServiceError::NoPreview(
                "one-time and download-limited clips have no preview: it would show them \
                 without counting a download"
                    .into(),
            ));
        }
        let c = clip.clone();
        if let Some(b) = self
            .blocking(move |q| Ok(q.blobs.read_preview(c.blob)))
            .await?
        {
            return Ok(b);
        }
        let _permit = self
            .previews
            .acquire()
            .await
            .map_err(|e| ServiceError::Task(e.to_string()))?;
        self.blocking(move |q| {
            // Another request may have made it while this one waited.
            if let Some(b) = q.blobs.read_preview(clip.blob) {
                return Ok(b);
            }
            let jpeg = render(q.clip_content(&clip)?.into_reader())?;
            if let Err(e) = q.blobs.write_preview(clip.blob, &jpeg) {
                tracing::debug!(error = %e, "preview not cached");
            }
            Ok(Bytes::from(jpeg))
        })
        .await
    }
}

/// Decodes an image under the limits and encodes its preview. Blocking.
fn render<R: Read + Seek>(src: R) -> Result<Vec<u8>> {
    let mut reader = ImageReader::new(BufReader::new(src))
        .with_guessed_format()
        .map_err(read_failed)?;
    if reader.format().is_none() {
        return Err(ServiceError::NoPreview("the clip is not an image".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(refused)?;
    let (w, h) = (img.width(), img.height());
    let img = if w > PREVIEW_MAX.0 || h > PREVIEW_MAX.1 {
        img.thumbnail(PREVIEW_MAX.0, PREVIEW_MAX.1)
    } else {
        img
    };
    let rgb = img.into_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&rgb)
        .map_err(refused)?;
    Ok(out)
}

fn refused(e: ImageError) -> ServiceError {
    match e {
        ImageError::Limits(l) => ServiceError::ImageRefused(format!(
            "the image is too large to preview (at most {MAX_SIDE}x{MAX_SIDE} pixels and {} MiB decoded): {l}",
            MAX_ALLOC >> 20
        )),
        ImageError::Unsupported(u) => {
            ServiceError::NoPreview(format!("unsupported image format: {u}"))
        }
        ImageError::IoError(e) => read_failed(e),
        e => ServiceError::ImageRefused(format!("the image could not be decoded: {e}")),
    }
}

/// A read of the clip's content failed: the store's own error when it is one (a bucket that
/// is unavailable is a 503, a missing chunk the content's absence), else an I/O failure.
fn read_failed(e: std::io::Error) -> ServiceError {
    match e.downcast::<crate::blobs::BlobError>() {
        Ok(crate::blobs::BlobError::Damaged(_)) => ServiceError::ContentMissing,
        Ok(b) => b.into(),
        Err(e) => ServiceError::Blob(e.into()),
    }
}
