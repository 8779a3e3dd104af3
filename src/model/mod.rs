//! Plain domain types: clip and upload identifiers, clip metadata, upload sessions, the
//! records of received chunks, and drop boxes (`dropbox`). No I/O happens here; the store
//! encodes these values and the service decides what they mean.

mod dropbox;

pub use dropbox::{BoxId, DropBox, DropItem, SessionDrop, BOX_ALPHABET, BOX_ID_LEN};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The alphabet of clip IDs.
pub const CLIP_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Length of an Enhanced clip ID.
pub const ENHANCED_ID_LEN: usize = 10;
/// Length of a Quick Share clip ID.
pub const QUICK_ID_LEN: usize = 6;

/// A public clip identifier: 6 or 10 characters of `A-Z0-9`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClipId {
    len: u8,
    bytes: [u8; ENHANCED_ID_LEN],
}

impl ClipId {
    /// Parses a clip ID, accepting only 6 or 10 characters of the clip alphabet.
    pub fn parse(s: &str) -> Result<ClipId, &'static str> {
        let b = s.as_bytes();
        if b.len() != QUICK_ID_LEN && b.len() != ENHANCED_ID_LEN {
            return Err("Clip ID must be 6 or 10 characters");
        }
        if !b
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err("Clip ID must contain only uppercase letters and numbers");
        }
        Ok(Self::from_valid(b))
    }

    fn from_valid(b: &[u8]) -> ClipId {
        let mut bytes = [0u8; ENHANCED_ID_LEN];
        bytes[..b.len()].copy_from_slice(b);
        ClipId {
            len: b.len() as u8,
            bytes,
        }
    }

    /// Draws a fresh ID of `len` characters from the OS CSPRNG. Rejection sampling keeps
    /// every character equally likely (bytes ≥ 252 are discarded, 252 = 7 × 36).
    pub fn random(len: usize) -> ClipId {
        let mut out = Vec::with_capacity(len);
        let mut rng = rand::rngs::OsRng;
        let mut buf = [0u8; 16];
        while out.len() < len {
            rng.fill_bytes(&mut buf);
            for &byte in &buf {
                if byte < 252 && out.len() < len {
                    out.push(CLIP_ALPHABET[(byte % 36) as usize]);
                }
            }
        }
        Self::from_valid(&out)
    }

    /// The ID as a string slice.
    pub fn as_str(&self) -> &str {
        // The bytes are always ASCII from the clip alphabet.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// The raw key bytes (the ASCII characters).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// True for 6-character (Quick Share) IDs.
    pub fn is_quick(&self) -> bool {
        self.len as usize == QUICK_ID_LEN
    }

    /// A shortened form for logs: the first three characters only.
    pub fn redacted(&self) -> String {
        format!("{}…", &self.as_str()[..3])
    }
}

impl fmt::Display for ClipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ClipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClipId({})", self.redacted())
    }
}

/// An upload session identifier: 16 uppercase hex characters, the only capability for the
/// session. Its `Debug` and `Display` forms are redacted so it never reaches a log whole.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UploadId(pub u64);

impl UploadId {
    /// Parses exactly 16 hexadecimal characters (either case).
    pub fn parse(s: &str) -> Option<UploadId> {
        if s.len() != 16 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(UploadId)
    }

    /// A fresh random ID from the OS CSPRNG.
    pub fn random() -> UploadId {
        UploadId(rand::rngs::OsRng.next_u64())
    }

    /// The full 16-character form, for the client only.
    pub fn to_hex(&self) -> String {
        format!("{:016X}", self.0)
    }

    /// The first four characters, for logs.
    pub fn redacted(&self) -> String {
        format!("{}…", &self.to_hex()[..4])
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.redacted())
    }
}

/// What a clip holds, which decides its URL (`/clip/` or `/file/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentKind {
    /// Text shared through the Share Text tab.
    Text,
    /// A file.
    File,
}

impl ContentKind {
    /// The wire name: `text` or `file`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContentKind::Text => "text",
            ContentKind::File => "file",
        }
    }
}

/// The server-side form of an access code: an HMAC-SHA-256, keyed with the server's secret,
/// of a per-clip salt and the hash the client sent. What the client sends is never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGuard {
    /// Random per-clip salt.
    pub salt: [u8; 16],
    /// HMAC-SHA-256(server key, salt || client hash).
    pub mac: [u8; 32],
}

/// Where a clip's or session's bytes live: a directory under `blobs/` named by a random
/// token (never by client input) holding one file per chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobDir(pub u64);

impl BlobDir {
    /// A fresh random directory token.
    pub fn random() -> BlobDir {
        BlobDir(rand::rngs::OsRng.next_u64())
    }

    /// The directory name.
    pub fn name(&self) -> String {
        format!("{:016x}", self.0)
    }

    /// Parses a directory name written by [`BlobDir::name`].
    pub fn parse(name: &str) -> Option<BlobDir> {
        if name.len() != 16 || !name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(name, 16).ok().map(BlobDir)
    }
}

/// One stored chunk: its length, its SHA-256 (to tell an identical re-send from a different
/// one) and the random token in its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// Length in bytes.
    pub len: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Random token of the chunk's file name.
    pub token: u64,
}

/// A shared clip: everything the server knows about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipMeta {
    /// The public ID.
    pub id: ClipId,
    /// Text or file.
    pub kind: ContentKind,
    /// The file name the client gave (the web client sends a random name).
    pub filename: String,
    /// The MIME type the client gave.
    pub mime: String,
    /// Total size in bytes, computed from the stored chunks.
    pub size: u64,
    /// Milliseconds since the epoch.
    pub created_at: u64,
    /// Milliseconds since the epoch; the clip is never served at or after this instant.
    pub expires_at: u64,
    /// How many downloads the clip allows (`Some(1)`: one-time); `None` for no limit. Each
    /// download of a limited clip is a claim in the store's claims tree.
    pub max_downloads: Option<u32>,
    /// Quick Share clip (6-character ID, 5 minutes, no access code).
    pub quick_share: bool,
    /// Set when the clip was uploaded in one request without client-side encryption.
    pub plaintext: bool,
    /// The access-code guard, if any.
    pub access: Option<AccessGuard>,
    /// Where the bytes live.
    pub blob: BlobDir,
    /// The upload this clip came from: its chunk records (kept under the upload's ID until
    /// the clip is removed) name the chunk files.
    pub upload: UploadId,
    /// Number of chunks; they are numbered from 0.
    pub chunk_count: u32,
}

impl ClipMeta {
    /// A one-time clip: one download, claimed by its first reader.
    pub fn one_time(&self) -> bool {
        self.max_downloads == Some(1)
    }
}

/// The largest download limit a clip may have.
pub const MAX_DOWNLOADS: u32 = 1000;

/// The download limit a sender asked for: `one_time` is the limit 1, `max` any limit from 1
/// to [`MAX_DOWNLOADS`]; both at once must agree.
pub fn download_limit(one_time: bool, max: Option<u64>) -> Result<Option<u32>, String> {
    let max = match max {
        None => None,
        Some(n @ 1..=1000) => Some(n as u32),
        Some(_) => {
            return Err(format!(
                "maxDownloads must be an integer from 1 to {MAX_DOWNLOADS}"
            ))
        }
    };
    match (one_time, max) {
        (true, Some(n)) if n != 1 => {
            Err("oneTime means maxDownloads 1; send one or the other".into())
        }
        (true, _) => Ok(Some(1)),
        (false, m) => Ok(m),
    }
}

/// The downloads of a clip with a download limit: how many were claimed, and the claims
/// still open. A claim is a download in progress: its reader holds a token (only its hash is
/// kept) that lets it resume with `Range` until `until`; it ends when the reader has been sent
/// the last byte or when its window closes, and it counts either way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Downloads claimed so far, open or ended.
    pub taken: u32,
    /// The open claims.
    pub open: Vec<Claim>,
}

/// One open download claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// SHA-256 of the token given to the reader.
    pub token_hash: [u8; 32],
    /// Milliseconds since the epoch when the claim's window closes.
    pub until: u64,
}

impl Claims {
    /// Whether every download `max` allows is claimed.
    pub fn exhausted(&self, max: u32) -> bool {
        self.taken >= max
    }

    /// Whether the clip's downloads are over: all claimed and none still open.
    pub fn finished(&self, max: u32) -> bool {
        self.exhausted(max) && self.open.is_empty()
    }
}

/// An upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadSession {
    /// The file name the client gave.
    pub filename: String,
    /// The MIME type (text sessions get `text/plain; charset=utf-8`).
    pub mime: String,
    /// Text or file.
    pub kind: ContentKind,
    /// Number of chunks the client announced.
    pub total_chunks: u32,
    /// Chunk size of this session.
    pub chunk_size: u64,
    /// The chosen lifetime in milliseconds, counted from completion.
    pub lifetime_ms: u64,
    /// The download limit the clip will have (`Some(1)`: one-time).
    pub max_downloads: Option<u32>,
    /// Quick Share session.
    pub quick_share: bool,
    /// The client said at initiate that it would set an access code.
    pub has_password: bool,
    /// Where the chunks are written.
    pub blob: BlobDir,
    /// Milliseconds since the epoch.
    pub created_at: u64,
    /// Milliseconds since the epoch of the last chunk or initiate.
    pub last_activity: u64,
    /// Number of distinct chunks received so far.
    pub received: u32,
    /// Sum of the lengths of the chunks received so far.
    pub received_bytes: u64,
    /// The size the client declared at initiate, if it did: completion refuses more bytes.
    pub declared_size: Option<u64>,
    /// The drop box this upload sends into, if any: the item it will become holds a place
    /// there until it completes or the session goes.
    pub dropbox: Option<SessionDrop>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_id_parse_rules() {
        assert!(ClipId::parse("ABC123").is_ok());
        assert!(ClipId::parse("ABCDE12345").is_ok());
        assert!(ClipId::parse("abc123").is_err());
        assert!(ClipId::parse("ABC12").is_err());
        assert!(ClipId::parse("ABC-12").is_err());
        assert!(ClipId::parse("ABCDEFGH").is_err());
    }

    #[test]
    fn random_ids_are_valid_and_unbiased() {
        let mut counts = [0u32; 36];
        for _ in 0..20_000 {
            let id = ClipId::random(10);
            assert!(ClipId::parse(id.as_str()).is_ok());
            for c in id.as_bytes() {
                let i = CLIP_ALPHABET.iter().position(|a| a == c).unwrap();
                counts[i] += 1;
            }
        }
        // 200,000 draws: every symbol expects 5,556 with sd ≈ 73. The original's modulo bias
        // gave A-D 8/7 of the others (about +700), far outside this band.
        for c in counts {
            assert!((5_200..5_900).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn upload_id_round_trip_and_redaction() {
        let id = UploadId::random();
        assert_eq!(UploadId::parse(&id.to_hex()), Some(id));
        assert_eq!(UploadId::parse(&id.to_hex().to_lowercase()), Some(id));
        assert!(UploadId::parse("0123456789ABCDEG").is_none());
        assert!(UploadId::parse("../../etc/passwd").is_none());
        assert!(!format!("{id:?}").contains(&id.to_hex()));
    }

    #[test]
    fn blob_dir_names_round_trip() {
        let d = BlobDir::random();
        assert_eq!(BlobDir::parse(&d.name()), Some(d));
        assert!(BlobDir::parse("..").is_none());
    }
}
