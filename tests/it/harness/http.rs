//! Talking HTTP to a server under test: the request builders and the API calls every test
//! makes (upload, download, admin), for an in-process [`super::TestServer`] and a
//! [`super::ServerProcess`] alike, and [`Answer`] for turning a request into what a test
//! asserts on.

use super::ADMIN_TOKEN;
use serde_json::{json, Value};
use std::time::Duration;

/// A server's address and a client for it.
#[derive(Clone)]
pub struct Http {
    /// `http://127.0.0.1:PORT` (or `https://`).
    pub base: String,
    /// An HTTP client that ignores proxies.
    pub client: reqwest::Client,
}

impl Http {
    /// A client for `base` that ignores proxies.
    pub fn new(base: String) -> Http {
        Http {
            base,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// The same, with a whole-request timeout.
    pub fn with_timeout(base: String, timeout: Duration) -> Http {
        Http {
            base,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(timeout)
                .build()
                .unwrap(),
        }
    }

    /// A full URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to a path on this server.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A GET request to a path on this server.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A POST request to a path on this server.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A PUT request to a path on this server.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path))
    }

    /// GET returning (status, JSON).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        self.get(path).json_answer().await
    }

    /// POST a JSON body returning (status, JSON).
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path).json(&body).json_answer().await
    }

    /// POST raw bytes with a content type, returning (status, JSON).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.post(path)
            .header("content-type", content_type)
            .body(body)
            .json_answer()
            .await
    }

    /// Admin GET with the bearer token.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.get(path).bearer_auth(ADMIN_TOKEN).json_answer().await
    }

    /// Runs a sweep through the admin API and returns its report.
    pub async fn sweep(&self) -> Value {
        let (status, v) = self
            .post("/api/admin/sweep")
            .bearer_auth(ADMIN_TOKEN)
            .json_answer()
            .await;
        assert_eq!(status, 200, "{v}");
        v["report"].clone()
    }

    /// Initiates an upload; returns the upload ID.
    pub async fn initiate(&self, body: Value) -> String {
        let (status, v) = self.post_json("/api/upload/initiate", body).await;
        assert_eq!(status, 200, "initiate failed: {v}");
        v["uploadId"].as_str().unwrap().to_string()
    }

    /// Sends chunk `n` as a raw PUT body; returns (status, JSON).
    pub async fn put_chunk(&self, upload: &str, n: u32, bytes: Vec<u8>) -> (u16, Value) {
        self.put(&format!("/api/upload/chunk/{upload}/{n}"))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .json_answer()
            .await
    }

    /// Sends chunk `n` as multipart field `chunk` (as the original web client did).
    pub async fn post_chunk_multipart(&self, upload: &str, n: u32, bytes: Vec<u8>) -> (u16, Value) {
        let form = reqwest::multipart::Form::new()
            .text("chunkNumber", n.to_string())
            .part(
                "chunk",
                reqwest::multipart::Part::bytes(bytes).file_name("chunk"),
            );
        self.post(&format!("/api/upload/chunk/{upload}/{n}"))
            .multipart(form)
            .json_answer()
            .await
    }

    /// Uploads `data` in chunks of `cs` bytes with the given initiate fields (merged over a
    /// file upload with 1hr expiry) and complete body; returns the complete answer.
    pub async fn upload_in_chunks(
        &self,
        data: &[u8],
        cs: usize,
        initiate: Value,
        complete: Value,
    ) -> Value {
        let total = data.len().div_ceil(cs).max(1);
        let mut body = json!({
            "filename": "test.bin",
            "filesize": data.len(),
            "totalChunks": total,
            "contentType": "file",
            "expiration": "1hr",
        });
        if let (Some(b), Some(extra)) = (body.as_object_mut(), initiate.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let upload = self.initiate(body).await;
        for (n, piece) in data.chunks(cs).enumerate() {
            let (status, v) = self.put_chunk(&upload, n as u32, piece.to_vec()).await;
            assert_eq!(status, 200, "chunk {n} failed: {v}");
        }
        let (status, v) = self
            .post_json(&format!("/api/upload/complete/{upload}"), complete)
            .await;
        assert_eq!(status, 200, "complete failed: {v}");
        v
    }

    /// `GET /file/:id` with this `Accept` header: the raw bytes of an unencrypted clip for a
    /// script (`*/*`), the app page for a browser.
    pub async fn get_file(&self, id: &str, accept: &str) -> reqwest::Response {
        self.get(&format!("/file/{id}"))
            .header("accept", accept)
            .answer()
            .await
    }

    /// Downloads a clip's content (`POST /api/file/:id`), returning the response.
    pub async fn download(&self, id: &str, access_code: Option<&str>) -> reqwest::Response {
        let body = match access_code {
            Some(c) => json!({ "accessCode": c }),
            None => json!({}),
        };
        self.post(&format!("/api/file/{id}"))
            .json(&body)
            .answer()
            .await
    }

    /// Downloads and returns (status, bytes).
    pub async fn download_bytes(&self, id: &str, access_code: Option<&str>) -> (u16, Vec<u8>) {
        let r = self.download(id, access_code).await;
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }
}

/// A response's `Content-Type` (empty when there is none).
pub fn content_type(r: &reqwest::Response) -> &str {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// Sending a request that must get an answer (a transport error fails the test).
pub trait Answer {
    /// The response.
    async fn answer(self) -> reqwest::Response;
    /// (status, JSON body, or `null` when the body is not JSON).
    async fn json_answer(self) -> (u16, Value);
    /// (status, headers, JSON body or `null`).
    async fn full_answer(self) -> (u16, reqwest::header::HeaderMap, Value);
    /// (status, body as text).
    async fn text_answer(self) -> (u16, String);
}

impl Answer for reqwest::RequestBuilder {
    async fn answer(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn json_answer(self) -> (u16, Value) {
        let (status, _, v) = self.full_answer().await;
        (status, v)
    }

    async fn full_answer(self) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self.answer().await;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    async fn text_answer(self) -> (u16, String) {
        let r = self.answer().await;
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// A response header's value as text, empty when it is missing or not text.
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
