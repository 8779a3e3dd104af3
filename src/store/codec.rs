//! Key and value encoding for the sled trees. Keys are hand-built big-endian bytes so that
//! sled's byte order is numeric order (bincode would not keep it); values are a version byte
//! followed by bincode, so a later release can read or migrate what an earlier one wrote.

use super::StoreError;
use crate::model::{ClipId, UploadId};
use serde::{de::DeserializeOwned, Serialize};

/// The version byte every value starts with.
pub const VALUE_VERSION: u8 = 1;

/// Encodes a value: version byte, then bincode (standard configuration).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VALUE_VERSION];
    let body = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a value written by [`encode`], refusing unknown versions and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            let (value, used) =
                bincode::serde::decode_from_slice(body, bincode::config::standard())
                    .map_err(|e| StoreError::Corrupt(format!("decode: {e}")))?;
            if used != body.len() {
                return Err(StoreError::Corrupt("trailing bytes in value".into()));
            }
            Ok(value)
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!("unknown value version {v}"))),
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
        let v = encode(&(1u32, "x".to_string())).unwrap();
        assert_eq!(v[0], VALUE_VERSION);
        assert_eq!(decode::<(u32, String)>(&v).unwrap(), (1, "x".into()));
        let mut bad = v.clone();
        bad[0] = 9;
        assert!(decode::<(u32, String)>(&bad).is_err());
        assert!(decode::<(u32, String)>(&[]).is_err());
        let mut long = v;
        long.push(0);
        assert!(decode::<(u32, String)>(&long).is_err());
    }

    #[test]
    fn chunk_keys_order_numerically() {
        let id = UploadId(5);
        assert!(chunk_key(id, 2) < chunk_key(id, 10));
        assert_eq!(chunk_number(&chunk_key(id, 300)), Some(300));
    }
}
