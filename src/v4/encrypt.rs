//! The streaming V4 writer: plaintext in pieces of any size, ciphertext out, never more than
//! one record of plaintext held in memory.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use super::{
    derive_key, random_array, record_nonce, Header, Layout, Metadata, V4Error,
    DEFAULT_DATA_RECORD_SIZE, DEFAULT_METADATA_RECORD_SIZE, HEADER_LEN, NONCE_PREFIX_LEN, SALT_LEN,
};

/// How to build the header. The defaults are the format's defaults with a random salt and
/// nonce prefix; fixing `salt` and `nonce_prefix` makes the output deterministic (test
/// vectors only: never reuse them for real content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Plaintext bytes per data record.
    pub data_record_size: u32,
    /// Plaintext bytes of the metadata record.
    pub metadata_record_size: u32,
    /// The salt, or `None` for 32 bytes from the OS.
    pub salt: Option<[u8; SALT_LEN]>,
    /// The nonce prefix, or `None` for 7 bytes from the OS.
    pub nonce_prefix: Option<[u8; NONCE_PREFIX_LEN]>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            data_record_size: DEFAULT_DATA_RECORD_SIZE,
            metadata_record_size: DEFAULT_METADATA_RECORD_SIZE,
            salt: None,
            nonce_prefix: None,
        }
    }
}

/// A streaming V4 encryptor for content whose size is known up front (it is in the
/// metadata record, which comes first).
///
/// Call [`update`](Self::update) with the plaintext in pieces, then [`finish`](Self::finish);
/// both append ciphertext to the caller's buffer, so it can be sent or written as it comes.
pub struct Encryptor {
    cipher: Aes256Gcm,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    layout: Layout,
    /// Header and metadata record, until the first output.
    pending: Option<Vec<u8>>,
    /// Plaintext bytes received.
    received: u64,
    /// The current record's plaintext (never a full record between calls).
    buf: Vec<u8>,
    /// The index of the next data record.
    next_index: u32,
}

impl Encryptor {
    /// Derives the key (600,000 PBKDF2 iterations) and prepares the header and the metadata
    /// record. The password flag is set when `password` is `Some` (even `Some("")`).
    pub fn new(
        secret: &str,
        password: Option<&str>,
        metadata: &Metadata,
        options: &EncryptOptions,
    ) -> Result<Encryptor, V4Error> {
        let header = Header {
            password: password.is_some(),
            data_record_size: options.data_record_size,
            metadata_record_size: options.metadata_record_size,
            salt: options.salt.unwrap_or_else(random_array),
            nonce_prefix: options.nonce_prefix.unwrap_or_else(random_array),
        };
        header.validate()?;
        let key = derive_key(secret, password, &header.salt);
        Encryptor::with_key(&key, header, metadata)
    }

    /// Uses an already derived content key (it must be `derive_key` of this header's salt).
    pub fn with_key(
        key: &[u8; 32],
        header: Header,
        metadata: &Metadata,
    ) -> Result<Encryptor, V4Error> {
        let header_bytes = header.to_bytes()?;
        let layout = header.layout(metadata.size)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));

        let m = header.metadata_record_size as usize;
        let json = metadata.to_json();
        let room = m.saturating_sub(4);
        let json_len = u32::try_from(json.len())
            .ok()
            .filter(|_| json.len() <= room);
        let Some(json_len) = json_len else {
            return Err(V4Error::MetadataTooLarge {
                len: json.len(),
                max: room,
            });
        };
        let mut record = Vec::with_capacity(m + super::TAG_LEN);
        record.extend_from_slice(&json_len.to_be_bytes());
        record.extend_from_slice(&json);
        record.resize(m, 0);
        let mut pending = Vec::with_capacity(HEADER_LEN + record.len() + super::TAG_LEN);
        pending.extend_from_slice(&header_bytes);
        seal(
            &cipher,
            &header_bytes,
            &header.nonce_prefix,
            0,
            false,
            &mut record,
            &mut pending,
        );

        Ok(Encryptor {
            buf: Vec::with_capacity(header.data_record_size as usize),
            cipher,
            header,
            header_bytes,
            layout,
            pending: Some(pending),
            received: 0,
            next_index: 1,
        })
    }

    /// The header this encryptor writes.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The exact length of the whole ciphertext (for an upload's declared size and chunks).
    pub fn ciphertext_len(&self) -> u64 {
        self.layout.ciphertext_len
    }

    /// Encrypts the next piece of plaintext, appending any completed records (and, the
    /// first time, the header and metadata record) to `out`. Fails if the pieces add up to
    /// more than the metadata's size.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), V4Error> {
        let actual = self.received.saturating_add(plaintext.len() as u64);
        if actual > self.layout.size {
            return Err(V4Error::SizeMismatch {
                declared: self.layout.size,
                actual,
            });
        }
        self.received = actual;
        self.absorb(plaintext, out)
    }

    /// Adds the padding, seals the last record and appends what is left to `out`. Fails if
    /// fewer bytes than the metadata's size were given.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), V4Error> {
        if self.received != self.layout.size {
            return Err(V4Error::SizeMismatch {
                declared: self.layout.size,
                actual: self.received,
            });
        }
        let zeros = [0u8; 4096];
        let mut pad = self.layout.padded - self.layout.size;
        while pad > 0 {
            let n = pad.min(zeros.len() as u64) as usize;
            self.absorb(&zeros[..n], out)?;
            pad -= n as u64;
        }
        if let Some(p) = self.pending.take() {
            out.extend_from_slice(&p);
        }
        let index = self.next_index;
        seal(
            &self.cipher,
            &self.header_bytes,
            &self.header.nonce_prefix,
            index,
            true,
            &mut self.buf,
            out,
        );
        Ok(())
    }

    /// Appends plaintext to the current record, sealing each record that fills up.
    fn absorb(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), V4Error> {
        if let Some(p) = self.pending.take() {
            out.extend_from_slice(&p);
        }
        let r = self.header.data_record_size as usize;
        while !data.is_empty() {
            let take = (r - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == r {
                let index = self.next_index;
                // The layout guarantees the last index fits a u32; a full record is never last.
                self.next_index = index.checked_add(1).ok_or(V4Error::TooManyRecords)?;
                seal(
                    &self.cipher,
                    &self.header_bytes,
                    &self.header.nonce_prefix,
                    index,
                    false,
                    &mut self.buf,
                    out,
                );
            }
        }
        Ok(())
    }
}

/// Seals `record` in place as record `index` and appends ciphertext and tag to `out`;
/// `record` is left empty.
fn seal(
    cipher: &Aes256Gcm,
    aad: &[u8; HEADER_LEN],
    prefix: &[u8; NONCE_PREFIX_LEN],
    index: u32,
    last: bool,
    record: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    let nonce = record_nonce(prefix, index, last);
    // Encryption only fails for messages beyond GCM's limit (64 GiB); records are ≤ 64 MiB.
    if let Ok(tag) = cipher.encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, record) {
        out.extend_from_slice(record);
        out.extend_from_slice(&tag);
    }
    record.clear();
}
