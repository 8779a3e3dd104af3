//! The ciphertext of a `send`, cut into upload chunks: a [`Plan`] fixes what makes the
//! ciphertext reproducible (the secret, the derived key, the header's salt and nonce prefix),
//! and [`Chunks`] streams the source through the V4 encryptor, one chunk at a time, so that
//! an upload and a resume check regenerate exactly the same bytes.

use std::io::Read;

use crate::v4::{
    derive_key, Encryptor, Header, DEFAULT_DATA_RECORD_SIZE, DEFAULT_METADATA_RECORD_SIZE,
    NONCE_PREFIX_LEN, SALT_LEN,
};

use super::resume::ResumeState;
use super::source::Source;
use super::{ClientError, Result};

/// Plaintext read per encryption step.
const READ_SIZE: usize = 1 << 20;

/// What fixes the ciphertext: the secret, the derived key and the header.
pub struct Plan {
    /// The link secret.
    pub secret: String,
    key: [u8; 32],
    /// The V4 header.
    pub header: Header,
}

impl Plan {
    /// Derives the key (600,000 PBKDF2 iterations) for a fresh or saved salt and prefix.
    pub fn new(
        secret: String,
        password: Option<&str>,
        salt: [u8; SALT_LEN],
        prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Plan {
        let header = Header {
            password: password.is_some(),
            data_record_size: DEFAULT_DATA_RECORD_SIZE,
            metadata_record_size: DEFAULT_METADATA_RECORD_SIZE,
            salt,
            nonce_prefix: prefix,
        };
        let key = derive_key(&secret, password, &salt);
        Plan {
            secret,
            key,
            header,
        }
    }

    /// The plan saved in resume state.
    pub fn from_state(state: &ResumeState, password: Option<&str>) -> Option<Plan> {
        let salt: [u8; SALT_LEN] = hex::decode(&state.salt).ok()?.try_into().ok()?;
        let prefix: [u8; NONCE_PREFIX_LEN] =
            hex::decode(&state.nonce_prefix).ok()?.try_into().ok()?;
        Some(Plan::new(state.secret.clone(), password, salt, prefix))
    }

    /// The chunks of `source` under this plan.
    pub fn chunks<'a>(&self, source: &'a Source, chunk_size: u64) -> Result<Chunks<'a>> {
        let enc = Encryptor::with_key(&self.key, self.header.clone(), &source.metadata)
            .map_err(ClientError::Crypto)?;
        Ok(Chunks {
            reader: source.open()?,
            size: source.metadata.size,
            read: 0,
            enc: Some(enc),
            pending: Vec::new(),
            chunk_size: usize::try_from(chunk_size).unwrap_or(usize::MAX),
            next: 0,
        })
    }
}

/// The ciphertext of a source, cut into upload chunks.
pub struct Chunks<'a> {
    reader: Box<dyn Read + 'a>,
    size: u64,
    read: u64,
    enc: Option<Encryptor>,
    pending: Vec<u8>,
    chunk_size: usize,
    next: u32,
}

impl Chunks<'_> {
    /// The next chunk and its number, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<(u32, Vec<u8>)>> {
        let mut buf = vec![0u8; READ_SIZE];
        while self.pending.len() < self.chunk_size {
            let Some(enc) = self.enc.as_mut() else { break };
            let n = self
                .reader
                .read(&mut buf)
                .map_err(|e| ClientError::io("input", e))?;
            if n == 0 {
                if self.read != self.size {
                    return Err(ClientError::Usage(
                        "the input changed while it was being sent (it got shorter)".into(),
                    ));
                }
                if let Some(enc) = self.enc.take() {
                    enc.finish(&mut self.pending).map_err(ClientError::Crypto)?;
                }
            } else {
                self.read += n as u64;
                enc.update(&buf[..n], &mut self.pending)
                    .map_err(ClientError::Crypto)?;
            }
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let take = self.pending.len().min(self.chunk_size);
        let rest = self.pending.split_off(take);
        let chunk = std::mem::replace(&mut self.pending, rest);
        let n = self.next;
        self.next += 1;
        Ok(Some((n, chunk)))
    }
}
