//! The 64-byte V4 header and the record layout it implies for a given content size.
//!
//! ```text
//! 0..4   "QPY4"            4      version 0x04         5   flags (bit 0: password)
//! 6..8   zero              8..12  data record size     12..16 metadata record size (u32be)
//! 16..48 salt              48..55 nonce prefix         55..64 zero
//! ```

use super::{
    padded_len, V4Error, FLAG_PASSWORD, HEADER_LEN, MAGIC, MAX_RECORD_SIZE,
    MIN_METADATA_RECORD_SIZE, NONCE_PREFIX_LEN, SALT_LEN, TAG_LEN, VERSION,
};

/// The fields of a V4 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Flags bit 0: a password is mixed into the key.
    pub password: bool,
    /// Plaintext bytes per data record (1..=64 MiB).
    pub data_record_size: u32,
    /// Plaintext bytes of the metadata record (64..=64 MiB).
    pub metadata_record_size: u32,
    /// The PBKDF2 salt.
    pub salt: [u8; SALT_LEN],
    /// The first 7 bytes of every record nonce.
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    /// Checks the record sizes.
    pub fn validate(&self) -> Result<(), V4Error> {
        if self.data_record_size == 0 || self.data_record_size > MAX_RECORD_SIZE {
            return Err(V4Error::BadHeader("data record size out of range"));
        }
        if self.metadata_record_size < MIN_METADATA_RECORD_SIZE
            || self.metadata_record_size > MAX_RECORD_SIZE
        {
            return Err(V4Error::BadHeader("metadata record size out of range"));
        }
        Ok(())
    }

    /// The 64 header bytes (validated first).
    pub fn to_bytes(&self) -> Result<[u8; HEADER_LEN], V4Error> {
        self.validate()?;
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5] = if self.password { FLAG_PASSWORD } else { 0 };
        h[8..12].copy_from_slice(&self.data_record_size.to_be_bytes());
        h[12..16].copy_from_slice(&self.metadata_record_size.to_be_bytes());
        h[16..48].copy_from_slice(&self.salt);
        h[48..55].copy_from_slice(&self.nonce_prefix);
        Ok(h)
    }

    /// Parses the first 64 bytes of `bytes`, rejecting a wrong magic or version, unknown
    /// flags, non-zero reserved bytes and out-of-range record sizes.
    pub fn parse(bytes: &[u8]) -> Result<Header, V4Error> {
        let h = bytes.get(..HEADER_LEN).ok_or(V4Error::Truncated)?;
        if h[0..4] != MAGIC {
            return Err(V4Error::BadMagic);
        }
        if h[4] != VERSION {
            return Err(V4Error::UnsupportedVersion(h[4]));
        }
        if h[5] & !FLAG_PASSWORD != 0 {
            return Err(V4Error::BadHeader("unknown flags"));
        }
        if h[6..8].iter().chain(&h[55..64]).any(|&b| b != 0) {
            return Err(V4Error::BadHeader("reserved bytes are not zero"));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&h[16..48]);
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&h[48..55]);
        let header = Header {
            password: h[5] & FLAG_PASSWORD != 0,
            data_record_size: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            metadata_record_size: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
            salt,
            nonce_prefix,
        };
        header.validate()?;
        Ok(header)
    }

    /// The record layout of content of `size` bytes under this header.
    pub fn layout(&self, size: u64) -> Result<Layout, V4Error> {
        let padded = padded_len(size);
        let r = u64::from(self.data_record_size.max(1));
        let full_records = padded / r;
        let last_len = padded % r;
        // Record 0 (metadata), the full records, the last record; indices must fit a u32.
        let records = full_records
            .checked_add(2)
            .filter(|&n| n <= u64::from(u32::MAX) + 1)
            .ok_or(V4Error::TooManyRecords)?;
        let tag = TAG_LEN as u64;
        let total = (HEADER_LEN as u64 + u64::from(self.metadata_record_size) + tag)
            .checked_add(full_records * (r + tag))
            .and_then(|t| t.checked_add(last_len + tag))
            .ok_or(V4Error::TooManyRecords)?;
        Ok(Layout {
            size,
            padded,
            full_records,
            last_len,
            records,
            ciphertext_len: total,
        })
    }
}

/// Where the bytes of content of a given size go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The plaintext size (from the metadata).
    pub size: u64,
    /// The size after padding.
    pub padded: u64,
    /// Data records of exactly the data record size (none of them is last).
    pub full_records: u64,
    /// Plaintext bytes of the final record (less than the data record size; may be 0).
    pub last_len: u64,
    /// The number of records, metadata record included.
    pub records: u64,
    /// The length of the whole stream, header included.
    pub ciphertext_len: u64,
}

impl Layout {
    /// The index of the final record.
    pub fn last_index(&self) -> u64 {
        self.records - 1
    }
}
