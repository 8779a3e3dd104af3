//! What `qopy send` sends: one file as itself; several files or a directory as one tar
//! archive, built into a temporary file (its exact size must be known before encrypting, as
//! it goes into the V4 metadata); `-` reads standard input, which becomes a text clip when it
//! is valid UTF-8 of at most the server's `maxTextChars`, and a file named `stdin` otherwise.
//!
//! Each source has the V4 [`Metadata`] it is sent with and, unless it came from standard
//! input, an identity (paths, sizes and modification times) that names its resume state.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::v4::{Kind, Metadata};

use super::{ClientError, Result};

/// Where the bytes come from.
enum Body {
    Memory(Vec<u8>),
    Path(PathBuf),
    Temp(tempfile::NamedTempFile),
}

/// The content of one `send`.
pub struct Source {
    /// The V4 metadata (kind, name, type, size).
    pub metadata: Metadata,
    /// Paths, sizes and modification times of every input, for resume; `None` for stdin.
    pub identity: Option<String>,
    body: Body,
}

impl Source {
    /// A reader over the content from its start (it yields at most `metadata.size` bytes).
    pub fn open(&self) -> Result<Box<dyn Read + '_>> {
        let size = self.metadata.size;
        Ok(match &self.body {
            Body::Memory(b) => Box::new(&b[..]),
            Body::Path(p) => Box::new(File::open(p).map_err(|e| ClientError::io(p, e))?.take(size)),
            Body::Temp(t) => {
                let mut f = t.reopen().map_err(|e| ClientError::io(t.path(), e))?;
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| ClientError::io(t.path(), e))?;
                Box::new(f.take(size))
            }
        })
    }

    /// True for a text clip.
    pub fn is_text(&self) -> bool {
        self.metadata.kind == Kind::Text
    }
}

/// Builds the source for the command line's `FILE...` arguments.
pub fn prepare(files: &[PathBuf], max_text_chars: u64) -> Result<Source> {
    let stdin = files.iter().any(|f| f.as_os_str() == "-");
    match files {
        [] => Err(ClientError::Usage("nothing to send".into())),
        [_] if stdin => from_stdin(max_text_chars),
        _ if stdin => Err(ClientError::Usage(
            "`-` (standard input) cannot be combined with files".into(),
        )),
        [one] if std::fs::metadata(one).map(|m| m.is_file()).unwrap_or(false) => single(one),
        many => archive(many),
    }
}

fn single(path: &Path) -> Result<Source> {
    let meta = std::fs::metadata(path).map_err(|e| ClientError::io(path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let canonical = path.canonicalize().map_err(|e| ClientError::io(path, e))?;
    Ok(Source {
        metadata: Metadata::file(&name, mime.as_ref(), meta.len()),
        identity: Some(identity_line(&name, &canonical, &meta)),
        body: Body::Path(path.to_path_buf()),
    })
}

/// One line of a source's identity: archive name, path, size, modification time.
fn identity_line(name: &str, path: &Path, meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}\0{}\0{}\0{mtime}\n", path.display(), meta.len())
}

fn from_stdin(max_text_chars: u64) -> Result<Source> {
    let stdin = Path::new("<stdin>");
    let limit = max_text_chars.saturating_mul(4).saturating_add(1);
    let mut input = std::io::stdin().lock();
    let mut head = Vec::new();
    (&mut input)
        .take(limit)
        .read_to_end(&mut head)
        .map_err(|e| ClientError::io(stdin, e))?;
    if (head.len() as u64) < limit {
        if head.is_empty() {
            return Err(ClientError::Usage(
                "standard input is empty: nothing to send".into(),
            ));
        }
        if let Ok(text) = std::str::from_utf8(&head) {
            if text.chars().count() as u64 <= max_text_chars {
                return Ok(Source {
                    metadata: Metadata::text(head.len() as u64),
                    identity: None,
                    body: Body::Memory(head),
                });
            }
        }
    }
    // Binary or long: spill to a temporary file so the size is known before encrypting.
    let mut tmp = tempfile::NamedTempFile::new().map_err(|e| ClientError::io(stdin, e))?;
    tmp.write_all(&head)
        .map_err(|e| ClientError::io(tmp.path(), e))?;
    std::io::copy(&mut input, &mut tmp).map_err(|e| ClientError::io(stdin, e))?;
    tmp.flush().map_err(|e| ClientError::io(tmp.path(), e))?;
    let size = tmp
        .as_file()
        .metadata()
        .map_err(|e| ClientError::io(tmp.path(), e))?
        .len();
    Ok(Source {
        metadata: Metadata::file("stdin", "application/octet-stream", size),
        identity: None,
        body: Body::Temp(tmp),
    })
}

/// Several files and directories as one tar archive in a temporary file. Entries are named
/// by the last component of each argument (directories keep their tree below it), in a
/// stable order with deterministic headers apart from the real modification times, so the
/// same inputs make the same archive (which resuming relies on).
fn archive(paths: &[PathBuf]) -> Result<Source> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| ClientError::io("temporary file", e))?;
    let file = tmp.reopen().map_err(|e| ClientError::io(tmp.path(), e))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let mut identity = String::new();
    let mut names = std::collections::BTreeSet::new();
    for path in paths {
        let canonical = path.canonicalize().map_err(|e| ClientError::io(path, e))?;
        let name = canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".into());
        if !names.insert(name.clone()) {
            return Err(ClientError::Usage(format!(
                "two inputs are named {name:?}: an archive cannot hold both"
            )));
        }
        add(&mut builder, &canonical, &name, &mut identity)?;
    }
    let out = builder
        .into_inner()
        .map_err(|e| ClientError::io(tmp.path(), e))?;
    out.into_inner()
        .map_err(|e| ClientError::io(tmp.path(), e.into_error()))?
        .sync_all()
        .map_err(|e| ClientError::io(tmp.path(), e))?;
    let size = tmp
        .as_file()
        .metadata()
        .map_err(|e| ClientError::io(tmp.path(), e))?
        .len();
    let name = match paths {
        [_] => format!(
            "{}.tar",
            names.iter().next().map(String::as_str).unwrap_or("files")
        ),
        _ => "files.tar".to_string(),
    };
    Ok(Source {
        metadata: Metadata::file(&name, "application/x-tar", size),
        identity: Some(identity),
        body: Body::Temp(tmp),
    })
}

type Tar = tar::Builder<std::io::BufWriter<File>>;

/// Appends `path` (a file, or a directory and everything below it) as `name`.
fn add(builder: &mut Tar, path: &Path, name: &str, identity: &mut String) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| ClientError::io(path, e))?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    if let Ok(d) = meta.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
        header.set_mtime(d.map(|d| d.as_secs()).unwrap_or(0));
    }
    identity.push_str(&identity_line(name, path, &meta));
    if meta.is_file() {
        let file = File::open(path).map_err(|e| ClientError::io(path, e))?;
        header.set_size(meta.len());
        builder
            .append_data(&mut header, name, file.take(meta.len()))
            .map_err(|e| ClientError::io(path, e))
    } else if meta.is_dir() {
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{name}/"), std::io::empty())
            .map_err(|e| ClientError::io(path, e))?;
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| ClientError::io(path, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| ClientError::io(path, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = entry.path();
            let link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            // Symbolic links to directories are skipped (they could loop); to files, followed.
            if link
                && std::fs::metadata(&child)
                    .map(|m| m.is_dir())
                    .unwrap_or(true)
            {
                eprintln!("qopy: skipping {} (a link to a directory)", child.display());
                continue;
            }
            let child_name = format!("{name}/{}", entry.file_name().to_string_lossy());
            add(builder, &child, &child_name, identity)?;
        }
        Ok(())
    } else {
        eprintln!("qopy: skipping {} (not a regular file)", path.display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_make_the_same_archive() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let sub = dir.path().join("sub");
        std::fs::write(&a, b"alpha").unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("b.bin"), vec![7u8; 3000]).unwrap();
        let read = |s: &Source| {
            let mut v = Vec::new();
            s.open().unwrap().read_to_end(&mut v).unwrap();
            v
        };
        let one = prepare(&[a.clone(), sub.clone()], 10).unwrap();
        let two = prepare(&[a.clone(), sub.clone()], 10).unwrap();
        assert_eq!(read(&one), read(&two));
        assert_eq!(one.identity, two.identity);
        assert_eq!(one.metadata.name, "files.tar");
        let mut names = Vec::new();
        let bytes = read(&one);
        let mut ar = tar::Archive::new(&bytes[..]);
        for e in ar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["a.txt", "sub/", "sub/b.bin"]);
        assert!(prepare(&[a.clone(), a], 10).is_err());
    }
}
