//! The writing end of one chunk upload, whichever store takes it: a crash-safe file
//! ([`FileSink`]) or an object in a bucket ([`ObjectSink`]). Either way the chunk is durable
//! when [`ChunkSink::finish`] returns Ok, and nothing is left behind when it does not.

use super::remote::ObjectSink;
use super::write::FileSink;
use super::{BlobError, WrittenChunk};
use bytes::Bytes;

/// The writing end of one chunk upload.
pub struct ChunkSink(Inner);

enum Inner {
    File(FileSink),
    Object(ObjectSink),
}

impl From<FileSink> for ChunkSink {
    fn from(s: FileSink) -> ChunkSink {
        ChunkSink(Inner::File(s))
    }
}

impl From<ObjectSink> for ChunkSink {
    fn from(s: ObjectSink) -> ChunkSink {
        ChunkSink(Inner::Object(s))
    }
}

impl ChunkSink {
    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        match &self.0 {
            Inner::File(s) => s.received(),
            Inner::Object(s) => s.received(),
        }
    }

    /// Takes one piece of the body. Fails when the limit is passed or the store failed.
    pub async fn write(&mut self, data: Bytes) -> Result<(), BlobError> {
        match &mut self.0 {
            Inner::File(s) => s.write(data).await,
            Inner::Object(s) => s.write(data).await,
        }
    }

    /// Gives the body up: returns once nothing of it is left.
    pub async fn abandon(&mut self) {
        match &mut self.0 {
            Inner::File(s) => s.abandon().await,
            Inner::Object(s) => s.abandon(),
        }
    }

    /// Ends the body: the chunk is durable when this returns Ok.
    pub async fn finish(self) -> Result<WrittenChunk, BlobError> {
        match self.0 {
            Inner::File(s) => s.finish().await,
            Inner::Object(s) => s.finish().await,
        }
    }
}
