//! Key and value encoding for the sled trees. Keys are hand-built big-endian bytes so that
//! sled's byte order is numeric order (bincode would not keep it); values are a version byte
//! followed by bincode, so a later release can read or migrate what an earlier one wrote.

use super::StoreError;
use crate::model::{
    BoxId, ChunkRecord, Claims, ClipId, ClipMeta, DropBox, DropItem, UploadId, UploadSession,
};
use serde::{de::DeserializeOwned, Serialize};

/// A value kept in a tree, with the version of its encoding. A version changes whenever the
/// type's fields change; `super::migrate` rewrites values of earlier versions at start-up.
pub trait Record: Serialize + DeserializeOwned {
    /// The version byte this type's values start with.
    const VERSION: u8;
}

impl Record for ChunkRecord {
    const VERSION: u8 = 1;
}

/// Version 2 added `received_bytes`, version 3 `declared_size`, version 4 replaced
/// `one_time` with `max_downloads`, version 5 added `dropbox`.
impl Record for UploadSession {
    const VERSION: u8 = 5;
}

impl Record for DropBox {
    const VERSION: u8 = 1;
}

impl Record for DropItem {
    const VERSION: u8 = 1;
}

/// Version 2 replaced the list of chunk records with `upload` and `chunk_count`, version 3
/// `one_time` with `max_downloads`.
impl Record for ClipMeta {
    const VERSION: u8 = 3;
}

impl Record for Claims {
    const VERSION: u8 = 1;
}

/// Encodes a record: its version byte, then bincode (standard configuration).
pub fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    encode_as(T::VERSION, value)
}

/// Decodes a record written by [`encode`], refusing other versions and trailing bytes.
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_as(T::VERSION, bytes)
}

/// Encodes any value under the given version byte.
pub fn encode_as<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![version];
    let body = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a value written by [`encode_as`] with exactly `version`.
pub fn decode_as<T: DeserializeOwned>(version: u8, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&v, body)) if v == version => {
            let (value, used) =
                bincode::serde::decode_from_slice(body, bincode::config::standard())
                    .map_err(|e| StoreError::Corrupt(format!("decode: {e}")))?;
            if used != body.len() {
                return Err(StoreError::Corrupt("trailing bytes in value".into()));
            }
            Ok(value)
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "value version {v}, expected {version}"
        ))),
        None => Err(StoreError::Corrupt("empty value".into())),
    }
}

/// Key of the expiry index: big-endian expiry time, then the clip ID, so a range scan from
/// the start up to `now` yields exactly the expired clips, oldest first.
pub fn expiry_key(expires_at: u64, id: &ClipId) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + 10);
    k.extend_from_slice(&expires_at.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// Splits an expiry-index key back into its time and clip ID.
pub fn parse_expiry_key(k: &[u8]) -> Option<(u64, ClipId)> {
    if k.len() < 8 {
        return None;
    }
    let (t, id) = k.split_at(8);
    let t = u64::from_be_bytes(t.try_into().ok()?);
    let id = ClipId::parse(std::str::from_utf8(id).ok()?).ok()?;
    Some((t, id))
}

/// Key of an upload session.
pub fn session_key(id: UploadId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// Key of one received chunk: the session key, then the big-endian chunk number, so a prefix
/// scan lists a session's chunks in order.
pub fn chunk_key(id: UploadId, n: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&id.0.to_be_bytes());
    k[8..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The chunk number of a chunk key.
pub fn chunk_number(k: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(k.get(8..12)?.try_into().ok()?))
}

/// Key of a drop box's expiry-index entry: big-endian expiry time, then the box ID.
pub fn box_expiry_key(expires_at: u64, id: &BoxId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&expires_at.to_be_bytes());
    k[8..].copy_from_slice(id.as_bytes());
    k
}

/// Splits a drop-box expiry key back into its time and box ID.
pub fn parse_box_expiry_key(k: &[u8]) -> Option<(u64, BoxId)> {
    if k.len() != 16 {
        return None;
    }
    let t = u64::from_be_bytes(k[..8].try_into().ok()?);
    Some((t, BoxId::from_key(&k[8..])?))
}

/// Key of one item of a drop box: the box ID, then its big-endian sequence number, so a
/// prefix scan lists a box's items in order.
pub fn item_key(id: &BoxId, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(id.as_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Reads a big-endian u64 counter value (absent = 0).
pub fn counter_value(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_keys_sort_by_time_then_id() {
        let a = ClipId::parse("ZZZZZZ").unwrap();
        let b = ClipId::parse("AAAAAAAAAA").unwrap();
        assert!(expiry_key(1, &a) < expiry_key(2, &b));
        assert!(expiry_key(256, &b) > expiry_key(255, &a));
        assert_eq!(parse_expiry_key(&expiry_key(77, &b)), Some((77, b)));
    }

    #[test]
    fn values_round_trip_and_reject_bad_versions() {
        let v = encode_as(3, &(1u32, "x".to_string())).unwrap();
        assert_eq!(v[0], 3);
        assert_eq!(decode_as::<(u32, String)>(3, &v).unwrap(), (1, "x".into()));
        assert!(decode_as::<(u32, String)>(2, &v).is_err());
        assert!(decode_as::<(u32, String)>(3, &[]).is_err());
        let mut long = v;
        long.push(0);
        assert!(decode_as::<(u32, String)>(3, &long).is_err());
        let rec = ChunkRecord {
            len: 5,
            sha256: [7; 32],
            token: 9,
        };
        let v = encode(&rec).unwrap();
        assert_eq!(v[0], ChunkRecord::VERSION);
        assert_eq!(decode::<ChunkRecord>(&v).unwrap(), rec);
    }

    #[test]
    fn drop_box_keys_order_by_time_and_sequence() {
        let a = BoxId::parse("ZZZZZZZZ").unwrap();
        let b = BoxId::parse("00000000").unwrap();
        assert!(box_expiry_key(1, &a) < box_expiry_key(2, &b));
        assert_eq!(parse_box_expiry_key(&box_expiry_key(9, &a)), Some((9, a)));
        assert!(item_key(&a, 2) < item_key(&a, 256));
        assert!(item_key(&b, u64::MAX) < item_key(&a, 0));
    }

    #[test]
    fn chunk_keys_order_numerically() {
        let id = UploadId(5);
        assert!(chunk_key(id, 2) < chunk_key(id, 10));
        assert_eq!(chunk_number(&chunk_key(id, 300)), Some(300));
    }
}
