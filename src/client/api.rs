//! The HTTP API as the client uses it (blocking reqwest): configuration, the upload session
//! (initiate, chunks, status, cancel, complete), clip information and the download. The bodies
//! are the contract's types (`crate::api`), the ones the server's handlers write. Error
//! answers (`{"error", "message"}`) become [`ClientError`]s with the server's message. Request
//! URLs never contain a link's secret (it is a fragment), so transport errors may show them.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde::Deserialize;
use sha2::Sha512;

use super::{ClientError, Result};

/// PBKDF2 iterations of the access-code hash (the server's contract, SPEC §3).
pub const ACCESS_CODE_ITERATIONS: u32 = 600_000;

/// How often a chunk is tried before the upload gives up.
const CHUNK_ATTEMPTS: u32 = 4;

use crate::api::{AccessCodeRequest, CompleteRequest, CompleteResponse, FileInfo};
pub use crate::api::{ClipInfo, PublicConfig as ServerConfig, StoredChunk, UploadStatus};
use crate::api::{InitiateRequest, InitiateResponse};

/// The access-code hash the server expects: lowercase hex of
/// `PBKDF2-HMAC-SHA512(code, utf8(pbkdf2Salt), 600000, 64)`.
pub fn access_code_hash(code: &str, salt: &str) -> String {
    let out = pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(
        code.as_bytes(),
        salt.as_bytes(),
        ACCESS_CODE_ITERATIONS,
    );
    hex::encode(out)
}

/// The header that carries a drop box's owner token.
const OWNER_HEADER: &str = "x-qopy-owner";

/// A Qopy server.
pub struct Api {
    base: String,
    http: Client,
}

impl Api {
    /// A client for the server at `base` (`http(s)://host[:port][/prefix]`).
    pub fn new(base: &str) -> Result<Api> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(20))
            // Downloads and chunk uploads may take long; stalls are caught by TCP keep-alive.
            .timeout(None)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("qopy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ClientError::Network {
                url: base.to_string(),
                source,
            })?;
        Ok(Api {
            base: base.to_string(),
            http,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn net(&self, source: reqwest::Error) -> ClientError {
        ClientError::Network {
            url: self.base.clone(),
            source: source.without_url(),
        }
    }

    /// Reads a JSON success body, or turns an error answer into a [`ClientError::Api`].
    fn json<T: for<'de> Deserialize<'de>>(&self, r: Response) -> Result<T> {
        let r = check(r)?;
        r.json().map_err(|e| self.net(e))
    }

    /// `GET /api/config`.
    pub fn config(&self) -> Result<ServerConfig> {
        let r = self
            .http
            .get(self.url("/api/config"))
            .send()
            .map_err(|e| self.net(e))?;
        if r.status().as_u16() == 404 {
            return Err(ClientError::Usage(format!(
                "{} does not look like a Qopy server (no /api/config)",
                self.base
            )));
        }
        self.json(r)
    }

    /// `GET path` as JSON; 404 and 410 are [`ClientError::NotFound`].
    pub fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T> {
        self.owned(self.http.get(self.url(path)), None)
    }

    /// `GET path` as JSON with the owner token of a drop box, answered within `timeout`;
    /// 404 and 410 are [`ClientError::NotFound`].
    pub fn get_owned_within<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        owner: &str,
        timeout: Duration,
    ) -> Result<T> {
        self.owned(self.http.get(self.url(path)).timeout(timeout), Some(owner))
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub fn post_json<B: serde::Serialize, T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .map_err(|e| self.net(e))?;
        self.json(r)
    }

    /// `DELETE path` with the owner token of a drop box; 404 and 410 are
    /// [`ClientError::NotFound`].
    pub fn delete_owned(&self, path: &str, owner: &str) -> Result<()> {
        let r = self
            .http
            .delete(self.url(path))
            .header(OWNER_HEADER, owner)
            .send()
            .map_err(|e| self.net(e))?;
        match r.status().as_u16() {
            404 | 410 => Err(ClientError::NotFound),
            _ => check(r).map(|_| ()),
        }
    }

    fn owned<T: for<'de> Deserialize<'de>>(
        &self,
        mut req: reqwest::blocking::RequestBuilder,
        owner: Option<&str>,
    ) -> Result<T> {
        if let Some(owner) = owner {
            req = req.header(OWNER_HEADER, owner);
        }
        let r = req.send().map_err(|e| self.net(e))?;
        match r.status().as_u16() {
            404 | 410 => Err(ClientError::NotFound),
            _ => self.json(r),
        }
    }

    /// `POST /api/upload/initiate`.
    pub fn initiate(&self, body: &InitiateRequest) -> Result<InitiateResponse> {
        let r = self
            .http
            .post(self.url("/api/upload/initiate"))
            .json(body)
            .send()
            .map_err(|e| self.net(e))?;
        self.json(r)
    }

    /// `PUT /api/upload/chunk/:id/:n` with the raw bytes, retried on network errors, 5xx and
    /// 429 (an identical re-send is idempotent on the server).
    pub fn put_chunk(&self, upload: &str, n: u32, bytes: bytes::Bytes) -> Result<()> {
        let url = self.url(&format!("/api/upload/chunk/{upload}/{n}"));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .http
                .put(&url)
                .header("content-type", "application/octet-stream")
                .body(bytes.clone())
                .send();
            let retry_after = match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    let wait = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if attempt >= CHUNK_ATTEMPTS {
                        return check(r).map(|_| ());
                    }
                    wait
                }
                Ok(r) => return check(r).map(|_| ()),
                Err(e) if attempt >= CHUNK_ATTEMPTS => return Err(self.net(e)),
                Err(_) => None,
            };
            let backoff = retry_after.unwrap_or(1 << (attempt - 1)).min(60);
            std::thread::sleep(Duration::from_secs(backoff));
        }
    }

    /// `GET /api/upload/:id/status`; `None` when the session no longer exists.
    pub fn status(&self, upload: &str) -> Result<Option<UploadStatus>> {
        let r = self
            .http
            .get(self.url(&format!("/api/upload/{upload}/status")))
            .send()
            .map_err(|e| self.net(e))?;
        if matches!(r.status().as_u16(), 400 | 404) {
            return Ok(None);
        }
        self.json(r).map(Some)
    }

    /// `DELETE /api/upload/:id`; a session already gone is fine.
    pub fn cancel(&self, upload: &str) -> Result<()> {
        let r = self
            .http
            .delete(self.url(&format!("/api/upload/{upload}")))
            .send()
            .map_err(|e| self.net(e))?;
        if r.status().as_u16() == 404 {
            return Ok(());
        }
        check(r).map(|_| ())
    }

    /// `POST /api/upload/complete/:id`, with the access-code hash if there is one.
    pub fn complete(&self, upload: &str, access_hash: Option<&str>) -> Result<CompleteResponse> {
        let body = CompleteRequest {
            access_code_hash: access_hash.map(str::to_string),
            requires_access_code: Some(access_hash.is_some()),
            ..Default::default()
        };
        let r = self
            .http
            .post(self.url(&format!("/api/upload/complete/{upload}")))
            .json(&body)
            .send()
            .map_err(|e| self.net(e))?;
        self.json(r)
    }

    /// A metadata lookup (never consumes); 404 is [`ClientError::NotFound`].
    fn lookup<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T> {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .map_err(|e| self.net(e))?;
        match r.status().as_u16() {
            404 => Err(ClientError::NotFound),
            _ => self.json(r),
        }
    }

    /// `GET /api/clip/:id/info`.
    pub fn clip_info(&self, id: &str) -> Result<ClipInfo> {
        self.lookup(&format!("/api/clip/{id}/info"))
    }

    /// `GET /api/file/:id/info`: the stored file name (for unencrypted clips).
    pub fn file_name(&self, id: &str) -> Result<String> {
        self.lookup::<FileInfo>(&format!("/api/file/{id}/info"))
            .map(|f| f.filename)
    }

    /// `POST /api/file/:id`: the content as a stream (this claims a download of a one-time or
    /// limited clip), or with `resume` the rest of it from a byte on (206).
    pub fn download(
        &self,
        id: &str,
        access_hash: Option<&str>,
        resume: Option<&Resume>,
    ) -> Result<Response> {
        let mut req =
            self.http
                .post(self.url(&format!("/api/file/{id}")))
                .json(&AccessCodeRequest {
                    access_code: access_hash.map(str::to_string),
                });
        if let Some(r) = resume {
            req = req
                .header(reqwest::header::RANGE, format!("bytes={}-", r.from))
                .header(reqwest::header::IF_RANGE, &r.etag);
            if let Some(token) = &r.claim {
                req = req.header("x-qopy-claim", token);
            }
        }
        let r = req.send().map_err(|e| self.net(e))?;
        match (r.status().as_u16(), resume) {
            (200, None) | (206, Some(_)) => Ok(r),
            (200 | 206, _) => Err(ClientError::Api {
                status: r.status().as_u16(),
                message: "the clip changed while it was being downloaded; start again".into(),
            }),
            (status, _) => Self::download_error(r, status, access_hash),
        }
    }

    fn download_error(r: Response, status: u16, access_hash: Option<&str>) -> Result<Response> {
        match status {
            401 if access_hash.is_some() => Err(ClientError::WrongAccessCode),
            401 => Err(ClientError::AccessCodeRequired),
            404 => Err(ClientError::NotFound),
            410 => Err(ClientError::Consumed),
            _ => check(r),
        }
    }
}

/// Where a resumed download continues: its first byte, the content's validator (`ETag`) and
/// the claim token the first answer carried, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The first byte wanted.
    pub from: u64,
    /// The `ETag` of the first answer.
    pub etag: String,
    /// The `X-Qopy-Claim` of the first answer.
    pub claim: Option<String>,
}

/// The response if it is a success, else its `{"error","message"}` as a [`ClientError::Api`].
fn check(r: Response) -> Result<Response> {
    let status = r.status();
    if status.is_success() {
        return Ok(r);
    }
    let e: crate::api::ErrorBody = r.json().unwrap_or_default();
    let message = [e.message, e.error]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    Err(ClientError::Api {
        status: status.as_u16(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_code_hash_is_128_lowercase_hex() {
        let h = access_code_hash("1234", "salt");
        assert_eq!(h.len(), 128);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(h, access_code_hash("1235", "salt"));
    }
}
