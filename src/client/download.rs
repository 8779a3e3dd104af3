//! `qopy get`: parse the link, check what the clip needs (an access code) before the download
//! that would consume a one-time clip, then stream the content through the V4 decryptor (or
//! read a V3 payload whole) into the destination.
//!
//! A file is written to a temporary file beside its destination and renamed into place only
//! once the whole stream has authenticated, so a damaged or truncated download never leaves
//! a plausible-looking file behind. Text for the terminal is held until it has authenticated;
//! a file sent to standard output (`-o -`) is streamed, and an error at the end of it is
//! reported with a non-zero exit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::v4::{decrypt_any, Decryptor, Kind, Metadata, MAGIC};

use super::api::{access_code_hash, Api};
use super::progress::Progress;
use super::{ClientError, GetArgs, Result};

/// A parsed link: the server, the clip ID and the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The server's base URL.
    pub base: String,
    /// The clip ID (upper case).
    pub id: String,
    /// The fragment.
    pub secret: String,
}

/// Parses `http(s)://HOST[/prefix]/clip/ID#SECRET` (or `/file/`), or `ID#SECRET` against
/// `server`. Error messages never repeat the secret.
pub fn parse_link(link: &str, server: impl FnOnce() -> Result<String>) -> Result<Link> {
    let link = link.trim();
    let (before, secret) = link
        .split_once('#')
        .ok_or_else(|| ClientError::BadLink("it has no #SECRET part".into()))?;
    if secret.is_empty()
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ClientError::BadLink("its #SECRET part is malformed".into()));
    }
    let (base, id) = if before.contains("://") {
        let url = reqwest::Url::parse(before)
            .map_err(|e| ClientError::BadLink(format!("{before}: {e}")))?;
        let path = url.path().trim_end_matches('/');
        let (prefix, id) = path
            .rsplit_once("/clip/")
            .or_else(|| path.rsplit_once("/file/"))
            .ok_or_else(|| ClientError::BadLink(before.to_string()))?;
        let mut base = url.clone();
        base.set_path(prefix);
        base.set_query(None);
        (super::settings::normalize(base.as_str())?, id.to_string())
    } else {
        (server()?, before.to_string())
    };
    let id = id.to_ascii_uppercase();
    let valid = (id.len() == 6 || id.len() == 10) && id.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Err(ClientError::BadLink(format!(
            "{id:?} is not a clip ID (6 or 10 letters and digits)"
        )));
    }
    Ok(Link {
        base,
        id,
        secret: secret.to_string(),
    })
}

/// Where the plaintext goes.
enum Sink {
    /// Standard output, streamed.
    Stdout(std::io::Stdout),
    /// Held in memory, then written to standard output once authenticated.
    Held(Vec<u8>),
    /// A temporary file renamed to `dest` at the end.
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            Sink::Stdout(s) => s
                .write_all(bytes)
                .map_err(|e| ClientError::io("<stdout>", e)),
            Sink::Held(v) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
            Sink::File { tmp, .. } => tmp
                .write_all(bytes)
                .map_err(|e| ClientError::io(tmp.path(), e)),
        }
    }

    /// Makes the output final; returns where a file went.
    fn commit(self, force: bool) -> Result<Option<PathBuf>> {
        match self {
            Sink::Stdout(mut s) => s
                .flush()
                .map_err(|e| ClientError::io("<stdout>", e))
                .map(|_| None),
            Sink::Held(v) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&v)
                    .and_then(|_| out.flush())
                    .map_err(|e| ClientError::io("<stdout>", e))?;
                Ok(None)
            }
            Sink::File { tmp, dest } => {
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| ClientError::io(tmp.path(), e))?;
                let persisted = if force {
                    tmp.persist(&dest).map(|_| ())
                } else {
                    tmp.persist_noclobber(&dest).map(|_| ())
                };
                persisted.map_err(|e| ClientError::io(&dest, e.error))?;
                Ok(Some(dest))
            }
        }
    }
}

/// A file name safe to create in a directory: the last path component, without control
/// characters, never empty, `.` or `..`.
pub fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "download".to_string()
    } else {
        cleaned
    }
}

/// `dir/name`, or `dir/stem (1).ext` … when that exists already.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|i| dir.join(format!("{stem} ({i}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// The sink for content described by `meta`.
fn sink_for(args: &GetArgs, meta: &Metadata) -> Result<Sink> {
    let to_dir = |dir: &Path| -> Result<Sink> {
        let dest = free_path(dir, &safe_name(&meta.name));
        file_sink(dest)
    };
    match args.output.as_deref() {
        Some(p) if p.as_os_str() == "-" => Ok(if meta.kind == Kind::Text {
            Sink::Held(Vec::new())
        } else {
            Sink::Stdout(std::io::stdout())
        }),
        Some(p) if p.is_dir() => to_dir(p),
        Some(p) => file_sink(p.to_path_buf()),
        None if meta.kind == Kind::Text => Ok(Sink::Held(Vec::new())),
        None => to_dir(Path::new(".")),
    }
}

fn file_sink(dest: PathBuf) -> Result<Sink> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".qopy-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(|e| ClientError::io(&dir, e))?;
    Ok(Sink::File { tmp, dest })
}

/// Runs `qopy get`.
pub fn get(args: &GetArgs) -> Result<()> {
    let link = parse_link(&args.link, || {
        super::settings::server_url(args.server.as_deref())
    })?;
    // An explicit output file that exists is refused before the download consumes anything.
    if let Some(p) = args.output.as_deref() {
        if p.as_os_str() != "-" && !p.is_dir() && p.exists() && !args.force {
            return Err(ClientError::Usage(format!(
                "{} exists: pass --force to replace it",
                p.display()
            )));
        }
    }
    let api = Api::new(&link.base)?;
    let info = api.clip_info(&link.id)?;
    if info.has_password && args.access_code.is_none() {
        return Err(ClientError::AccessCodeRequired);
    }
    let access_hash = match &args.access_code {
        Some(code) if info.has_password => Some(access_code_hash(code, &api.config()?.pbkdf2_salt)),
        _ => None,
    };
    let plain_name = match (info.encrypted, info.content_type.as_str()) {
        (false, "file") => Some(api.file_name(&link.id)?),
        _ => None,
    };
    let resp = api.download(&link.id, access_hash.as_deref(), None)?;
    let progress = Progress::new(resp.content_length().unwrap_or(0), "downloading");
    let mut body = Resuming::new(&api, &link.id, access_hash.as_deref(), resp, &progress);
    let result = receive(args, &link, &info, plain_name, &mut body, &progress);
    progress.finish();
    let (meta, dest) = result?;
    if let Some(dest) = dest {
        eprintln!(
            "qopy: saved {} ({} bytes) to {}",
            safe_name(&meta.name),
            meta.size,
            dest.display()
        );
    }
    Ok(())
}

/// Reads the download into its sink; returns the metadata and where a file went.
/// Consecutive failed attempts after which a dropped download gives up.
const MAX_RETRIES: u32 = 10;

/// The pause before retry number `n` (from 1): 250 ms, doubling, at most 8 s.
fn backoff(n: u32) -> std::time::Duration {
    std::time::Duration::from_millis((250u64 << n.saturating_sub(1).min(5)).min(8_000))
}

/// A download's body that survives dropped connections: when the connection breaks before
/// the announced length, it asks again for the rest (`Range` from the first byte not yet
/// received, `If-Range` with the first answer's `ETag`, and the claim token of a one-time or
/// limited clip), with backoff, as long as attempts keep making progress. The bytes are the
/// same whichever answer carried them, so the reader (the V4 decryptor, which writes only
/// authenticated records) never sees a seam.
struct Resuming<'a> {
    api: &'a Api,
    id: &'a str,
    access_hash: Option<&'a str>,
    resp: reqwest::blocking::Response,
    /// The first answer's length, validator and claim token.
    total: Option<u64>,
    etag: Option<String>,
    claim: Option<String>,
    received: u64,
    /// Attempts since bytes last arrived.
    failures: u32,
    progress: &'a Progress,
}

impl<'a> Resuming<'a> {
    fn new(
        api: &'a Api,
        id: &'a str,
        access_hash: Option<&'a str>,
        resp: reqwest::blocking::Response,
        progress: &'a Progress,
    ) -> Resuming<'a> {
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Resuming {
            total: resp.content_length(),
            etag: header("etag"),
            claim: header("x-qopy-claim"),
            api,
            id,
            access_hash,
            resp,
            received: 0,
            failures: 0,
            progress,
        }
    }

    /// Asks for the rest after a broken connection (`cause`).
    fn reconnect(&mut self, cause: std::io::Error) -> std::io::Result<()> {
        let Some(etag) = self.etag.clone() else {
            return Err(cause);
        };
        loop {
            self.failures += 1;
            if self.failures > MAX_RETRIES {
                return Err(cause);
            }
            self.progress.note(&format!(
                "qopy: connection lost after {} bytes; reconnecting (attempt {} of {MAX_RETRIES})",
                self.received, self.failures
            ));
            std::thread::sleep(backoff(self.failures));
            let resume = super::api::Resume {
                from: self.received,
                etag: etag.clone(),
                claim: self.claim.clone(),
            };
            match self.api.download(self.id, self.access_hash, Some(&resume)) {
                Ok(r) => {
                    self.resp = r;
                    return Ok(());
                }
                Err(ClientError::Network { .. }) => continue,
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
    }
}

impl Read for Resuming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let cause = match self.resp.read(buf) {
                Ok(0) if self.total.is_none_or(|t| self.received >= t) => return Ok(0),
                Ok(0) => std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the connection closed before the end of the content",
                ),
                Ok(n) => {
                    self.received += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => e,
            };
            if self.total.is_none() {
                return Err(cause);
            }
            self.reconnect(cause)?;
        }
    }
}

fn receive(
    args: &GetArgs,
    link: &Link,
    info: &super::api::ClipInfo,
    plain_name: Option<String>,
    resp: &mut impl Read,
    progress: &Progress,
) -> Result<(Metadata, Option<PathBuf>)> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = |buf: &mut [u8]| -> Result<usize> {
        let n = resp
            .read(buf)
            .map_err(|e| ClientError::io("<download>", e))?;
        progress.inc(n as u64);
        Ok(n)
    };
    // Unencrypted clips (plain `curl` uploads) are passed through.
    if !info.encrypted {
        let meta = match plain_name {
            Some(name) => Metadata::file(&name, "application/octet-stream", 0),
            None => Metadata::text(0),
        };
        let mut sink = sink_for(args, &meta)?;
        let mut size = 0u64;
        loop {
            let n = read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            sink.write(&buf[..n])?;
        }
        let dest = sink.commit(args.force)?;
        return Ok((Metadata { size, ..meta }, dest));
    }

    // The first bytes tell V4 (`QPY4`) from V3.
    let mut head = Vec::new();
    while head.len() < MAGIC.len() {
        let n = read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let password = args.password.as_deref();
    if !head.starts_with(&MAGIC) {
        let mut all = head;
        loop {
            let n = read(&mut buf)?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        let (meta, plain) =
            decrypt_any(&link.secret, password, &all).map_err(ClientError::Crypto)?;
        let mut sink = sink_for(args, &meta)?;
        sink.write(&plain)?;
        let dest = sink.commit(args.force)?;
        return Ok((meta, dest));
    }

    let mut dec = Decryptor::new(&link.secret, password);
    let mut out = Vec::new();
    let mut sink: Option<Sink> = None;
    let mut input = head;
    loop {
        dec.update(&input, &mut out).map_err(ClientError::Crypto)?;
        if sink.is_none() {
            if let Some(meta) = dec.metadata() {
                sink = Some(sink_for(args, meta)?);
            }
        }
        if let Some(s) = sink.as_mut() {
            s.write(&out)?;
            out.clear();
        }
        let n = read(&mut buf)?;
        if n == 0 {
            break;
        }
        input = buf[..n].to_vec();
    }
    let meta = dec.finish().map_err(ClientError::Crypto)?;
    let mut sink = match sink {
        Some(s) => s,
        None => sink_for(args, &meta)?,
    };
    sink.write(&out)?;
    let dest = sink.commit(args.force)?;
    Ok((meta, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_server() -> Result<String> {
        Err(ClientError::Usage("no server".into()))
    }

    #[test]
    fn links_parse() {
        let l = parse_link("http://h:8080/clip/abcdef1234#s3cr-_t", no_server).unwrap();
        assert_eq!(l.base, "http://h:8080");
        assert_eq!(l.id, "ABCDEF1234");
        assert_eq!(l.secret, "s3cr-_t");
        let l = parse_link("https://x.example/qopy/file/ABC123#XYZ789", no_server).unwrap();
        assert_eq!(l.base, "https://x.example/qopy");
        assert_eq!(l.id, "ABC123");
        let l = parse_link("ABC123#XYZ789", || Ok("http://s".into())).unwrap();
        assert_eq!(l.base, "http://s");
        for bad in [
            "http://h/clip/ABC123",
            "http://h/clip/ABC123#",
            "http://h/other/ABC123#x",
            "http://h/clip/AB#x",
            "http://h/clip/ABC123#a b",
        ] {
            let e = parse_link(bad, no_server).unwrap_err();
            assert!(matches!(e, ClientError::BadLink(_)), "{bad}: {e}");
        }
        // The secret never appears in an error message.
        let e = parse_link("http://h/clip/AB#topsecret", no_server).unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
    }

    #[test]
    fn names_are_made_safe() {
        for (input, want) in [
            ("../../etc/passwd", "passwd"),
            ("a\\b.txt", "b.txt"),
            ("..", "download"),
            ("", "download"),
            ("x\n.txt", "x.txt"),
        ] {
            assert_eq!(safe_name(input), want, "{input:?}");
        }
    }
}
