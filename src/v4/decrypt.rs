//! The streaming V4 reader: ciphertext in pieces cut anywhere, plaintext out record by
//! record, holding at most one record in memory.
//!
//! The metadata record fixes the content size, hence the exact number and length of the
//! records that follow; the reader therefore knows which record must carry `last` and where
//! the stream must end, so a short stream is `Truncated`, a long one `Extended`, and a record
//! that does not authenticate at its position is `Reordered` (it authenticates at another
//! nearby index) or `Tampered`.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};

use super::{derive_key, record_nonce, Header, Layout, Metadata, V4Error, HEADER_LEN, TAG_LEN};

/// How far from its position a failing record is looked for, to report a reordering.
const REORDER_WINDOW: u64 = 64;

/// Where the key comes from.
enum KeySource {
    Secret {
        secret: String,
        password: Option<String>,
    },
    Key([u8; 32]),
}

/// What the next bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Metadata,
    Data,
    Done,
    Failed,
}

/// A streaming V4 decryptor.
///
/// Feed it ciphertext with [`update`](Self::update) in pieces of any size; it appends
/// verified plaintext (padding removed) to the caller's buffer. [`metadata`](Self::metadata)
/// is available once record 0 has been read. [`finish`](Self::finish) reports a truncated
/// stream. After any error the decryptor refuses further input.
pub struct Decryptor {
    keys: KeySource,
    stage: Stage,
    buf: Vec<u8>,
    header: Option<Header>,
    header_bytes: [u8; HEADER_LEN],
    cipher: Option<Aes256Gcm>,
    metadata: Option<Metadata>,
    layout: Option<Layout>,
    /// The index of the next record.
    index: u64,
    /// Plaintext bytes emitted.
    emitted: u64,
}

impl Decryptor {
    /// A decryptor that derives the key from the secret (and the password, used only when the
    /// header's password flag is set) once the header has arrived.
    pub fn new(secret: &str, password: Option<&str>) -> Decryptor {
        Decryptor::from_keys(KeySource::Secret {
            secret: secret.to_string(),
            password: password.map(str::to_string),
        })
    }

    /// A decryptor with an already derived content key (skips PBKDF2).
    pub fn with_key(key: &[u8; 32]) -> Decryptor {
        Decryptor::from_keys(KeySource::Key(*key))
    }

    fn from_keys(keys: KeySource) -> Decryptor {
        Decryptor {
            keys,
            stage: Stage::Header,
            buf: Vec::with_capacity(HEADER_LEN),
            header: None,
            header_bytes: [0; HEADER_LEN],
            cipher: None,
            metadata: None,
            layout: None,
            index: 0,
            emitted: 0,
        }
    }

    /// The header, once its 64 bytes have arrived.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// The metadata, once record 0 has been verified.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// The record layout (and the exact total length), once record 0 has been verified.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// True once the last record has been verified.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Consumes the next piece of ciphertext, appending the plaintext of every record it
    /// completes to `out`.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), V4Error> {
        while !input.is_empty() {
            let need = match self.stage {
                Stage::Failed => return Err(V4Error::Failed),
                Stage::Done => return Err(self.fail(V4Error::Extended)),
                Stage::Header => HEADER_LEN,
                Stage::Metadata => self.record_len(0),
                Stage::Data => self.record_len(self.index),
            };
            let take = (need - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() == need {
                let result = match self.stage {
                    Stage::Header => self.read_header(),
                    Stage::Metadata => self.read_metadata(),
                    _ => self.read_record(out),
                };
                self.buf.clear();
                if let Err(e) = result {
                    return Err(self.fail(e));
                }
            }
        }
        if self.stage == Stage::Failed {
            return Err(V4Error::Failed);
        }
        Ok(())
    }

    /// Ends the stream: returns the metadata if the last record was read, `Truncated` if not.
    pub fn finish(self) -> Result<Metadata, V4Error> {
        match (self.stage, self.metadata) {
            (Stage::Done, Some(m)) => Ok(m),
            (Stage::Failed, _) => Err(V4Error::Failed),
            _ => Err(V4Error::Truncated),
        }
    }

    fn fail(&mut self, e: V4Error) -> V4Error {
        self.stage = Stage::Failed;
        self.buf = Vec::new();
        e
    }

    /// The ciphertext length of record `index` (tag included).
    fn record_len(&self, index: u64) -> usize {
        let plain = match (&self.header, &self.layout) {
            (Some(h), _) if index == 0 => u64::from(h.metadata_record_size),
            (_, Some(l)) if index == l.last_index() => l.last_len,
            (Some(h), _) => u64::from(h.data_record_size),
            (None, _) => 0,
        };
        plain as usize + TAG_LEN
    }

    fn read_header(&mut self) -> Result<(), V4Error> {
        let header = Header::parse(&self.buf)?;
        self.header_bytes.copy_from_slice(&self.buf[..HEADER_LEN]);
        let key = match &self.keys {
            KeySource::Key(k) => *k,
            KeySource::Secret { secret, password } => {
                let password = match (header.password, password) {
                    (false, _) => None,
                    (true, Some(p)) => Some(p.as_str()),
                    (true, None) => return Err(V4Error::PasswordRequired),
                };
                derive_key(secret, password, &header.salt)
            }
        };
        self.cipher = Some(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)));
        self.header = Some(header);
        self.stage = Stage::Metadata;
        Ok(())
    }

    fn read_metadata(&mut self) -> Result<(), V4Error> {
        if !self.open(0, false) {
            return Err(V4Error::WrongKey);
        }
        let plain = &self.buf[..self.buf.len() - TAG_LEN];
        let len = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]) as usize;
        let json = plain
            .get(4..4usize.saturating_add(len))
            .ok_or_else(|| V4Error::BadMetadata("length exceeds the record".into()))?;
        let metadata: Metadata =
            serde_json::from_slice(json).map_err(|e| V4Error::BadMetadata(e.to_string()))?;
        let header = self.header.as_ref().ok_or(V4Error::Failed)?;
        self.layout = Some(header.layout(metadata.size)?);
        self.metadata = Some(metadata);
        self.index = 1;
        self.stage = Stage::Data;
        Ok(())
    }

    fn read_record(&mut self, out: &mut Vec<u8>) -> Result<(), V4Error> {
        let layout = self.layout.ok_or(V4Error::Failed)?;
        let index = self.index;
        let last = index == layout.last_index();
        if !self.open(index, last) {
            return Err(match self.find_elsewhere(index, &layout) {
                Some(found) => V4Error::Reordered { index, found },
                None => V4Error::Tampered { index },
            });
        }
        let plain = &self.buf[..self.buf.len() - TAG_LEN];
        let wanted = (layout.size - self.emitted).min(plain.len() as u64) as usize;
        out.extend_from_slice(&plain[..wanted]);
        self.emitted += wanted as u64;
        self.index += 1;
        if last {
            self.stage = Stage::Done;
        }
        Ok(())
    }

    /// Decrypts the buffered record in place as record `index`; false if it does not
    /// authenticate (the buffer is then unchanged).
    fn open(&mut self, index: u64, last: bool) -> bool {
        let (Some(cipher), Some(header), Ok(index)) =
            (&self.cipher, &self.header, u32::try_from(index))
        else {
            return false;
        };
        let nonce = record_nonce(&header.nonce_prefix, index, last);
        let split = self.buf.len() - TAG_LEN;
        let (body, tag) = self.buf.split_at_mut(split);
        let tag = Tag::clone_from_slice(tag);
        cipher
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &self.header_bytes, body, &tag)
            .is_ok()
    }

    /// The index, near `index`, that the buffered record authenticates as, if any.
    fn find_elsewhere(&mut self, index: u64, layout: &Layout) -> Option<u64> {
        let lo = index.saturating_sub(REORDER_WINDOW).max(1);
        let hi = index
            .saturating_add(REORDER_WINDOW)
            .min(layout.last_index());
        (lo..=hi)
            .filter(|&j| j != index)
            .find(|&j| self.open(j, j == layout.last_index()))
    }
}
