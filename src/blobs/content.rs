//! A clip's content as downloads and previews read it, whichever store holds it: the maps
//! of its chunk files (sent without copying), or its chunk objects in a bucket (streamed one
//! after the other, so a download holds no more than the pieces in flight). A content can be
//! narrowed to a byte range before it is read, which is how `Range` requests are served.

use super::remote::Remote;
use super::BlobError;
use crate::model::BlobDir;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

/// Object requests of a download open at once: the one being read and the next ones.
const OPEN_AHEAD: usize = 3;

/// The bytes fetched at once when a reader (previews) reads a bucket's object.
const READ_WINDOW: u64 = 1 << 20;

/// A clip's content, or a byte range of it.
pub enum Content {
    /// Slices of memory-mapped chunk files, in order.
    Mapped(Vec<Bytes>),
    /// Chunk objects in a bucket.
    Objects(Objects),
}

/// Chunk objects of one directory, and the range of their concatenation that is wanted.
pub struct Objects {
    remote: Arc<Remote>,
    dir: BlobDir,
    /// Chunk number, token and length of every chunk, in order.
    chunks: Arc<[(u32, u64, u64)]>,
    /// Start offset of every chunk in the whole.
    starts: Arc<[u64]>,
    /// The wanted bytes of the whole.
    range: Range<u64>,
}

impl Content {
    /// The content of chunk objects: `(number, token, length)` in order.
    pub(super) fn objects(
        remote: Arc<Remote>,
        dir: BlobDir,
        chunks: Vec<(u32, u64, u64)>,
    ) -> Content {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut total = 0u64;
        for c in &chunks {
            starts.push(total);
            total += c.2;
        }
        Content::Objects(Objects {
            remote,
            dir,
            chunks: chunks.into(),
            starts: starts.into(),
            range: 0..total,
        })
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Mapped(parts) => parts.iter().map(|p| p.len() as u64).sum(),
            Content::Objects(o) => o.range.end - o.range.start,
        }
    }

    /// True when it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `first..=last` of it (`last` below its length), without copying.
    pub fn slice(self, first: u64, last: u64) -> Content {
        match self {
            Content::Mapped(parts) => Content::Mapped(slice_parts(parts, first, last)),
            Content::Objects(mut o) => {
                let start = o.range.start + first;
                o.range = start..(o.range.start + last + 1).min(o.range.end);
                Content::Objects(o)
            }
        }
    }

    /// Checks, before anything is promised to a client, that the store can serve it: the
    /// object of its first chunk answers (before a `Range` narrows it: a probe of the store,
    /// not of the exact bytes sent). Maps need no check.
    pub async fn check(&self) -> Result<(), BlobError> {
        match self {
            Content::Mapped(_) => Ok(()),
            Content::Objects(o) => match o.pieces().first() {
                Some(&(i, _)) => {
                    let (n, token, _) = o.chunks[i];
                    o.remote.check_chunk(o.dir, n, token).await
                }
                None => Ok(()),
            },
        }
    }

    /// Its bytes, in order, as a stream of objects' pieces. Maps are served without it.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, BlobError>> {
        match self {
            Content::Mapped(parts) => futures_util::stream::iter(parts.into_iter().map(Ok)).boxed(),
            Content::Objects(o) => {
                let pieces = o.pieces();
                let (remote, dir, chunks) = (o.remote, o.dir, o.chunks);
                // The next objects' requests are opened while one is read, so the store
                // works on them meanwhile; their bytes wait in the connections' buffers (the
                // kernel's and the client's, bounded), not in ours.
                futures_util::stream::iter(pieces)
                    .map(move |(i, range)| {
                        let (remote, (n, token, _)) = (remote.clone(), chunks[i]);
                        async move {
                            let s = remote.chunk_stream(dir, n, token, range).await?;
                            Ok::<_, BlobError>(s.map_err(BlobError::from))
                        }
                    })
                    .buffered(OPEN_AHEAD)
                    .try_flatten()
                    .boxed()
            }
        }
    }

    /// A seekable reader of it, for blocking code (previews). Objects are fetched a window
    /// at a time as they are read.
    pub fn into_reader(self) -> ContentReader {
        ContentReader::new(self)
    }
}

impl Objects {
    /// The wanted range as (chunk index, range within that chunk), in order.
    fn pieces(&self) -> Vec<(usize, Range<u64>)> {
        let mut out = Vec::new();
        for (i, &(_, _, len)) in self.chunks.iter().enumerate() {
            let start = self.starts[i];
            let end = start + len;
            if end <= self.range.start || start >= self.range.end || len == 0 {
                continue;
            }
            let from = self.range.start.saturating_sub(start);
            let to = self.range.end.min(end) - start;
            out.push((i, from..to));
        }
        out
    }
}

/// The pieces of `parts` that hold bytes `first..=last`, without copying.
fn slice_parts(parts: Vec<Bytes>, first: u64, last: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for part in parts {
        let (start, end) = (offset, offset + part.len() as u64);
        offset = end;
        if end <= first || start > last {
            continue;
        }
        let from = first.saturating_sub(start) as usize;
        let to = (last + 1).min(end) - start;
        out.push(part.slice(from..to as usize));
    }
    out
}

/// Reads a content in order as one seekable byte stream: maps without copying them,
/// objects a window at a time.
pub struct ContentReader {
    source: Source,
    /// Start offset of each piece.
    starts: Vec<u64>,
    len: u64,
    pos: u64,
}

enum Source {
    Mapped(Vec<Bytes>),
    Objects {
        objects: Objects,
        pieces: Vec<(usize, Range<u64>)>,
        /// The last window fetched: piece index, offset in the piece, bytes.
        window: Option<(usize, u64, Bytes)>,
    },
}

impl ContentReader {
    fn new(content: Content) -> ContentReader {
        let (source, lens): (Source, Vec<u64>) = match content {
            Content::Mapped(parts) => {
                let lens = parts.iter().map(|p| p.len() as u64).collect();
                (Source::Mapped(parts), lens)
            }
            Content::Objects(objects) => {
                let pieces = objects.pieces();
                let lens = pieces.iter().map(|(_, r)| r.end - r.start).collect();
                let source = Source::Objects {
                    objects,
                    pieces,
                    window: None,
                };
                (source, lens)
            }
        };
        let mut starts = Vec::with_capacity(lens.len());
        let mut len = 0u64;
        for l in lens {
            starts.push(len);
            len += l;
        }
        ContentReader {
            source,
            starts,
            len,
            pos: 0,
        }
    }

    /// Bytes of piece `i` from offset `off` on (at least one byte).
    fn at(&mut self, i: usize, off: u64) -> io::Result<Bytes> {
        match &mut self.source {
            Source::Mapped(parts) => Ok(parts[i].slice(off as usize..)),
            Source::Objects {
                objects,
                pieces,
                window,
            } => {
                if let Some((wi, wo, bytes)) = window {
                    if *wi == i && off >= *wo && off < *wo + bytes.len() as u64 {
                        return Ok(bytes.slice((off - *wo) as usize..));
                    }
                }
                let (ci, range) = pieces[i].clone();
                let (n, token, _) = objects.chunks[ci];
                let from = range.start + off;
                let to = (from + READ_WINDOW).min(range.end);
                let bytes = objects
                    .remote
                    .chunk_range(objects.dir, n, token, from..to)
                    .map_err(io::Error::other)?;
                if bytes.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the store returned no bytes",
                    ));
                }
                *window = Some((i, off, bytes.clone()));
                Ok(bytes)
            }
        }
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        // The piece holding `pos`: the last one starting at or before it (an empty piece
        // shares its start with the next one, which comes later).
        let i = self.starts.partition_point(|&s| s <= self.pos) - 1;
        let off = self.pos - self.starts[i];
        let bytes = self.at(i, off)?;
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ContentReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(t) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        };
        self.pos = t;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::{slice_parts, Content};
    use bytes::Bytes;
    use std::io::{Read, Seek, SeekFrom};

    #[test]
    fn a_reader_of_maps_reads_across_parts_and_seeks() {
        let mut r = Content::Mapped(vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defg"),
        ])
        .into_reader();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abcdefg");
        r.seek(SeekFrom::Start(2)).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"cd");
        r.seek(SeekFrom::Start(3)).unwrap();
        let mut one = [0u8; 1];
        r.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"d");
        r.seek(SeekFrom::End(-1)).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"g");
    }

    #[test]
    fn slices_span_parts_without_copying() {
        let parts = || {
            vec![
                Bytes::from_static(b"0123"),
                Bytes::from_static(b"4567"),
                Bytes::from_static(b"89"),
            ]
        };
        let join = |v: Vec<Bytes>| v.iter().flat_map(|b| b.to_vec()).collect::<Vec<u8>>();
        assert_eq!(join(slice_parts(parts(), 0, 9)), b"0123456789");
        assert_eq!(join(slice_parts(parts(), 3, 8)), b"345678");
        assert_eq!(join(slice_parts(parts(), 4, 7)), b"4567");
        assert_eq!(join(slice_parts(parts(), 9, 9)), b"9");
        assert_eq!(slice_parts(parts(), 4, 7).len(), 1);
        let sliced = Content::Mapped(parts()).slice(2, 5);
        assert_eq!(sliced.len(), 4);
    }
}
