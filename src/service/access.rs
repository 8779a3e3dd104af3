//! Access codes and the admin token. The client sends `PBKDF2-HMAC-SHA512(code, pbkdf2Salt,
//! 600000, 64)` as 128 hex characters; the server keeps only an HMAC-SHA-256, under its own
//! secret key, of a per-clip salt and that value, and compares MACs in constant time. A
//! stolen database therefore holds nothing that can be replayed at the API.

use super::{Qopy, Result, ServiceError};
use crate::model::{AccessGuard, ClipMeta};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// True for exactly 128 hexadecimal characters.
pub fn is_access_hash(s: &str) -> bool {
    s.len() == 128 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

impl Qopy {
    fn access_mac(&self, salt: &[u8; 16], client_hash: &str) -> [u8; 32] {
        // The key is 32 bytes, which HMAC always accepts.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.server_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(salt);
        mac.update(client_hash.to_ascii_lowercase().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Builds the stored guard for a client hash (already checked with [`is_access_hash`]).
    pub(super) fn make_guard(&self, client_hash: &str) -> AccessGuard {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        AccessGuard {
            mac: self.access_mac(&salt, client_hash),
            salt,
        }
    }

    /// Checks the access code presented for a clip. Quick Share clips and clips without a
    /// code pass; otherwise a missing code is `AccessCodeRequired` and a malformed or wrong
    /// one `AccessDenied`.
    pub fn check_access(&self, clip: &ClipMeta, presented: Option<&str>) -> Result<()> {
        let Some(guard) = &clip.access else {
            return Ok(());
        };
        let code = match presented {
            None | Some("") => return Err(ServiceError::AccessCodeRequired),
            Some(c) => c,
        };
        if !is_access_hash(code) {
            return Err(ServiceError::AccessDenied);
        }
        let mac = self.access_mac(&guard.salt, code);
        if bool::from(mac.ct_eq(&guard.mac)) {
            Ok(())
        } else {
            Err(ServiceError::AccessDenied)
        }
    }

    /// Checks an admin token in constant time (comparing MACs, so the token's length does
    /// not leak either). `AdminDisabled` when no token is configured.
    pub fn check_admin(&self, presented: &str) -> Result<()> {
        let Some(token) = &self.config.admin_token else {
            return Err(ServiceError::AdminDisabled);
        };
        let salt = [0u8; 16];
        let a = self.access_mac(&salt, token);
        let b = self.access_mac(&salt, presented);
        // access_mac lowercases ASCII; compare the raw bytes too, still in constant time.
        let same_mac = a.ct_eq(&b);
        let same_case = presented
            .as_bytes()
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            .ct_eq(&0);
        if bool::from(same_mac & same_case) {
            Ok(())
        } else {
            Err(ServiceError::AdminDenied)
        }
    }
}
