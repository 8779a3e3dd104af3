//! The data directory is private to the user the server runs as: directories 0700, files
//! 0600, whatever the umask of the shell or service manager that started it. Three layers
//! keep it so: [`restrict_umask`] at start-up (covers files sled and the blob writers create
//! without an explicit mode), explicit modes where this crate creates directories and files
//! ([`create_dir`], [`create_dir_all`], [`FILE_MODE`]), and [`tighten`], which removes the
//! group and other bits from whatever an older version (or a copy made by hand) left behind.
//!
//! Every crash-safe write of a file goes through [`AtomicFile`] (or [`atomic_write`] for bytes
//! at hand): a temporary file with mode 0600 beside its final place, written, fsynced, renamed
//! into place, and the directory fsynced, so a crash leaves the old file or the new one, never
//! a part.

use rand::RngCore;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every directory under the data directory (and of the directory itself).
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file under the data directory.
pub const FILE_MODE: u32 = 0o600;
/// The group and other bits, which nothing under the data directory may carry.
const NOT_OWNER: u32 = 0o077;

/// Sets the process umask to 0o077, so that nothing the process creates afterwards is
/// readable by others. The umask is process-wide; the server wants that.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(NOT_OWNER));
}

/// Creates a directory with mode 0700 (`AlreadyExists` if there is one).
pub fn create_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(DIR_MODE).create(path)
}

/// Creates a directory and any missing parents, each with mode 0700.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Makes a directory entry durable: fsync of the directory itself.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// A file being written crash-safely: created (mode 0600, readable and writable) under a
/// temporary name in the directory it will live in, made durable under its final name by
/// [`AtomicFile::commit`]. Dropped before that, it hands its temporary path to the `discard`
/// it was created with, which removes it.
pub struct AtomicFile {
    file: fs::File,
    temp: TempName,
}

/// The temporary name of an [`AtomicFile`] until its commit.
struct TempName {
    dir: PathBuf,
    path: Option<PathBuf>,
    discard: fn(PathBuf),
}

impl Drop for TempName {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            (self.discard)(p);
        }
    }
}

fn remove_now(tmp: PathBuf) {
    let _ = fs::remove_file(tmp);
}

impl AtomicFile {
    /// Starts a file in `dir`; an abandoned one is removed at once.
    pub fn create(dir: &Path) -> io::Result<AtomicFile> {
        AtomicFile::create_with(dir, remove_now)
    }

    /// Starts a file in `dir`; an abandoned one is given to `discard` to remove (say, off an
    /// async thread).
    pub fn create_with(dir: &Path, discard: fn(PathBuf)) -> io::Result<AtomicFile> {
        let tmp = dir.join(format!(".tmp-{:016x}", rand::rngs::OsRng.next_u64()));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        Ok(AtomicFile {
            file,
            temp: TempName {
                dir: dir.to_path_buf(),
                path: Some(tmp),
                discard,
            },
        })
    }

    /// The open temporary file, to write to (`&File` is a writer).
    pub fn file(&self) -> &fs::File {
        &self.file
    }

    /// fsync, rename to `name` in the file's directory, fsync of the directory: the content is
    /// durable under its final name when this returns Ok. Returns the open file (a map of it
    /// stays valid). On failure before the rename, the temporary file is discarded.
    pub fn commit(self, name: impl AsRef<Path>) -> io::Result<fs::File> {
        let AtomicFile { file, mut temp } = self;
        file.sync_all()?;
        let tmp = temp.path.clone().unwrap_or_default();
        fs::rename(&tmp, temp.dir.join(name))?;
        temp.path = None;
        sync_dir(&temp.dir)?;
        Ok(file)
    }
}

/// Writes `bytes` to `path` crash-safely with mode 0600 (see [`AtomicFile`]).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let f = AtomicFile::create(dir)?;
    f.file().write_all(bytes)?;
    f.commit(name).map(drop)
}

/// Removes the group and other permission bits from `root` and everything under it
/// (directories end up 0700 and files 0600 when the owner's bits were the usual ones).
/// Symbolic links are neither followed nor changed. An entry that cannot be changed (owned
/// by another user, say) is logged and skipped: the server can still run. Returns how many
/// entries were changed. Blocking.
pub fn tighten(root: &Path) -> io::Result<usize> {
    let mut changed = 0;
    let mut failed = 0usize;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        // The data directory itself may be a link to where the data live; links inside are
        // neither followed nor changed.
        let meta = if path == root {
            fs::metadata(&path)
        } else {
            fs::symlink_metadata(&path)
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if path == root => return Err(e),
            Err(e) => {
                failed += 1;
                tracing::debug!(path = %path.display(), error = %e, "cannot inspect");
                continue;
            }
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & NOT_OWNER != 0 {
            let narrowed = fs::Permissions::from_mode(mode & !NOT_OWNER & 0o7777);
            match fs::set_permissions(&path, narrowed) {
                Ok(()) => changed += 1,
                Err(e) => {
                    failed += 1;
                    tracing::debug!(path = %path.display(), error = %e, "cannot narrow the mode");
                }
            }
        }
        if meta.is_dir() {
            match fs::read_dir(&path) {
                Ok(entries) => stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path())),
                Err(e) if path == root => return Err(e),
                Err(e) => {
                    failed += 1;
                    tracing::debug!(path = %path.display(), error = %e, "cannot list");
                }
            }
        }
    }
    if changed > 0 {
        tracing::info!(
            entries = changed,
            "removed group and other permissions under the data directory"
        );
    }
    if failed > 0 {
        tracing::warn!(
            entries = failed,
            dir = %root.display(),
            "some entries under the data directory could not be made private"
        );
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn tighten_removes_group_and_other_bits_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let sub = root.join("blobs");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o775)).unwrap();
        let open = sub.join("open");
        fs::write(&open, b"x").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).unwrap();
        let owner_only = root.join("owner-only");
        fs::write(&owner_only, b"x").unwrap();
        fs::set_permissions(&owner_only, fs::Permissions::from_mode(0o400)).unwrap();
        // A link out of the data directory is not followed.
        let outside = dir.path().join("outside");
        fs::write(&outside, b"x").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();

        assert_eq!(tighten(&root).unwrap(), 3);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&open), 0o600);
        assert_eq!(
            mode(&owner_only),
            0o400,
            "the owner's bits stay as they were"
        );
        assert_eq!(mode(&outside), 0o644, "a symbolic link is not followed");
        assert_eq!(tighten(&root).unwrap(), 0, "nothing left to change");
    }

    #[test]
    fn directories_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a").join("b");
        create_dir_all(&deep).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        let one = dir.path().join("c");
        create_dir(&one).unwrap();
        assert_eq!(mode(&one), 0o700);
    }
}
