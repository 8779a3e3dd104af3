//! Drop boxes as plain types: the box ID, the box record (the receiver's public key, its
//! expiry, its limits and how much of them is used), one arrived item, and what an upload
//! session sending into a box carries. The server stores the public key and the wrapped keys
//! as opaque bytes; only the receiver can unwrap them.

use super::ClipId;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The alphabet of drop-box IDs: Crockford base32, uppercase (no I, L, O or U).
pub const BOX_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of a drop-box ID.
pub const BOX_ID_LEN: usize = 8;

/// A drop box's public ID: 8 characters of [`BOX_ALPHABET`]. A separate namespace from clip
/// IDs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BoxId([u8; BOX_ID_LEN]);

impl BoxId {
    /// Parses an ID in either letter case (lowercase is normalised); None for anything that
    /// is not 8 characters of the alphabet.
    pub fn parse(s: &str) -> Option<BoxId> {
        let b = s.as_bytes();
        if b.len() != BOX_ID_LEN {
            return None;
        }
        let mut out = [0u8; BOX_ID_LEN];
        for (o, c) in out.iter_mut().zip(b) {
            let c = c.to_ascii_uppercase();
            if !BOX_ALPHABET.contains(&c) {
                return None;
            }
            *o = c;
        }
        Some(BoxId(out))
    }

    /// A fresh ID from the OS CSPRNG. 32 divides 256, so taking 5 bits of each byte keeps
    /// every character equally likely.
    pub fn random() -> BoxId {
        let mut raw = [0u8; BOX_ID_LEN];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        BoxId(raw.map(|b| BOX_ALPHABET[(b & 31) as usize]))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII from the alphabet.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The key bytes (the ASCII characters).
    pub fn as_bytes(&self) -> &[u8; BOX_ID_LEN] {
        &self.0
    }

    /// Rebuilds an ID from key bytes written by [`BoxId::as_bytes`].
    pub fn from_key(k: &[u8]) -> Option<BoxId> {
        BoxId::parse(std::str::from_utf8(k).ok()?)
    }

    /// A shortened form for logs: the first three characters only.
    pub fn redacted(&self) -> String {
        format!("{}…", &self.as_str()[..3])
    }
}

impl fmt::Display for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BoxId({})", self.redacted())
    }
}

/// A drop box: where senders put items for one receiver until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropBox {
    /// The receiver's public key: an uncompressed P-256 point (65 bytes), validated when the
    /// box was made.
    pub public_key: Vec<u8>,
    /// SHA-256 of the owner token; the token itself is never stored.
    pub owner_hash: [u8; 32],
    /// Milliseconds since the epoch.
    pub created_at: u64,
    /// Milliseconds since the epoch; the box and its items are gone at this instant.
    pub expires_at: u64,
    /// Most bytes its items (arrived and reserved) may hold together.
    pub max_bytes: u64,
    /// Most items (arrived and reserved) it may hold at once.
    pub max_items: u32,
    /// Items that arrived (completed uploads) and are still there.
    pub items: u32,
    /// Uploads in progress that hold a place (initiated, not yet completed or given up).
    pub reserved: u32,
    /// Bytes of the arrived items plus the declared sizes of the reserved ones.
    pub used_bytes: u64,
    /// The sequence number of the last item that arrived (0: none yet); items are numbered
    /// from 1 in the order they complete.
    pub last_seq: u64,
}

impl DropBox {
    /// Whether the box has expired at `now`.
    pub fn expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

/// One item that arrived in a drop box: a clip, with its content key wrapped to the box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropItem {
    /// Its number in the box, from 1, in the order items completed.
    pub seq: u64,
    /// The clip holding its (encrypted) bytes.
    pub clip: ClipId,
    /// Bytes stored.
    pub size: u64,
    /// The content key wrapped to the box's public key (opaque to the server).
    pub wrapped_key: Vec<u8>,
    /// Milliseconds since the epoch when it completed.
    pub created_at: u64,
}

/// What an upload session sending into a drop box carries: the box, the wrapped key the item
/// will get, and the bytes it reserved in the box (its declared size).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDrop {
    /// The box.
    pub dropbox: BoxId,
    /// The content key wrapped to the box's public key.
    pub wrapped_key: Vec<u8>,
    /// Bytes reserved in the box.
    pub reserved: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_ids_parse_any_case_and_refuse_other_letters() {
        let id = BoxId::random();
        assert_eq!(BoxId::parse(id.as_str()), Some(id));
        assert_eq!(BoxId::parse(&id.as_str().to_lowercase()), Some(id));
        assert_eq!(BoxId::parse("0123abcd").unwrap().as_str(), "0123ABCD");
        for bad in [
            "0123ABC",
            "0123ABCDE",
            "0123ABCI",
            "0123ABCL",
            "0123ABCO",
            "0123ABCU",
            "0123AB-D",
        ] {
            assert!(BoxId::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(BoxId::from_key(id.as_bytes()), Some(id));
        assert!(!format!("{id:?}").contains(id.as_str()));
    }

    #[test]
    fn random_box_ids_use_every_character_evenly() {
        let mut counts = [0u32; 32];
        for _ in 0..10_000 {
            for c in BoxId::random().as_bytes() {
                counts[BOX_ALPHABET.iter().position(|a| a == c).unwrap()] += 1;
            }
        }
        // 80,000 draws: 2,500 expected per character, sd = 49.
        for c in counts {
            assert!((2_250..2_750).contains(&c), "{counts:?}");
        }
    }
}
