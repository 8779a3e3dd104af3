//! The errors of the V4 (and V3) readers and writers, with a stable short `kind` string
//! that the shared test vectors use.

/// Why encrypting or decrypting failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V4Error {
    /// The data does not start with `QPY4`.
    #[error("not a Qopy V4 stream (bad magic)")]
    BadMagic,
    /// The version byte is not 4.
    #[error("unsupported V4 format version {0}")]
    UnsupportedVersion(u8),
    /// A header field is invalid (unknown flags, non-zero reserved bytes, record sizes).
    #[error("invalid V4 header: {0}")]
    BadHeader(&'static str),
    /// The header says a password is mixed into the key, and none was given.
    #[error("this content is protected by a password")]
    PasswordRequired,
    /// The metadata record (V4) or the payload (V3) did not authenticate: a wrong secret or
    /// password, or a damaged header.
    #[error("wrong secret or password (or damaged header)")]
    WrongKey,
    /// The metadata record authenticated but its content is unusable.
    #[error("invalid metadata: {0}")]
    BadMetadata(String),
    /// Data record `index` failed authentication.
    #[error("record {index} failed authentication (tampered or corrupted)")]
    Tampered {
        /// The position of the failing record (0 is the metadata record).
        index: u64,
    },
    /// The record at position `index` authenticates as record `found`.
    #[error("record {found} found at position {index} (records reordered)")]
    Reordered {
        /// Where the record was.
        index: u64,
        /// The index it was sealed for.
        found: u64,
    },
    /// The stream ended before its last record.
    #[error("the stream is truncated (it ended before its last record)")]
    Truncated,
    /// Bytes follow the last record.
    #[error("the stream is extended (bytes after its last record)")]
    Extended,
    /// The encryptor was given more or fewer bytes than the metadata's size.
    #[error("plaintext length {actual} does not match the declared size {declared}")]
    SizeMismatch {
        /// `Metadata::size`.
        declared: u64,
        /// What was given (so far).
        actual: u64,
    },
    /// The metadata JSON does not fit the metadata record.
    #[error("metadata JSON of {len} bytes does not fit a metadata record (max {max})")]
    MetadataTooLarge {
        /// The JSON length.
        len: usize,
        /// The room in the record.
        max: usize,
    },
    /// The content needs more than 2^32 records at this record size.
    #[error("too many records for this record size")]
    TooManyRecords,
    /// Not a V3 payload (first byte not 0x03, or shorter than 61 bytes).
    #[error("unsupported encryption format (not V4, and not V3)")]
    NotV3,
    /// `update` or `finish` after an error.
    #[error("the stream already failed")]
    Failed,
}

impl V4Error {
    /// A short stable name: `bad_header`, `password_required`, `wrong_key`, `bad_metadata`,
    /// `tampered`, `reordered`, `truncated`, `extended`, `size_mismatch`,
    /// `metadata_too_large`, `too_many_records`, `not_v3`, `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            V4Error::BadMagic | V4Error::UnsupportedVersion(_) | V4Error::BadHeader(_) => {
                "bad_header"
            }
            V4Error::PasswordRequired => "password_required",
            V4Error::WrongKey => "wrong_key",
            V4Error::BadMetadata(_) => "bad_metadata",
            V4Error::Tampered { .. } => "tampered",
            V4Error::Reordered { .. } => "reordered",
            V4Error::Truncated => "truncated",
            V4Error::Extended => "extended",
            V4Error::SizeMismatch { .. } => "size_mismatch",
            V4Error::MetadataTooLarge { .. } => "metadata_too_large",
            V4Error::TooManyRecords => "too_many_records",
            V4Error::NotV3 => "not_v3",
            V4Error::Failed => "failed",
        }
    }
}
