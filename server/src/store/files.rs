//! Shared files, stored by content: `files/<2 hex>/<sha256 hex>` under the
//! data directory. A file arrives whole into `files/tmp/`, is hashed as it
//! comes, synced, and only then renamed into place: a file in place is
//! complete and durable, whatever crashed when.
//!
//! Which rooms refer to a file is the store's business (`file_refs`); a
//! file nothing refers to any more is removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// 25 MiB by default (`--max-file-bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 25 << 20;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("the file is over {max} bytes")]
    TooLarge { max: u64 },
    #[error("the file came with {got}, not the {want} it was announced as")]
    Mismatch { want: String, got: String },
    #[error("the upload broke off: {0}")]
    Body(String),
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// Bytes of every file in place, for `/metrics`.
    total: AtomicU64,
    /// The thumbnails' decoding budget, in MiB of decoded pixels: what
    /// pictures being decoded at once may take in all.
    decoding: Arc<tokio::sync::Semaphore>,
}

/// MiB of decoded pixels that thumbnails may take at once, node-wide (a
/// 25-megapixel photo takes 96).
pub const THUMB_BUDGET_MIB: u32 = 192;

/// A file in place: its name and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub hash: String,
    pub size: u64,
}

impl FileStore {
    /// Opens `data/files`, clearing uploads a crash left half done.
    pub fn open(data: &Path) -> std::io::Result<FileStore> {
        let dir = data.join("files");
        let tmp = dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        crate::store::private::dir(&tmp)?;
        let mut total = 0;
        for shard in std::fs::read_dir(&dir)?.flatten() {
            if shard.file_name().len() != 2 || !shard.path().is_dir() {
                continue;
            }
            for f in std::fs::read_dir(shard.path())?.flatten() {
                total += f.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        let decoding = Arc::new(tokio::sync::Semaphore::new(THUMB_BUDGET_MIB as usize));
        Ok(FileStore { dir, total: AtomicU64::new(total), decoding })
    }

    /// See [`THUMB_BUDGET_MIB`].
    pub fn decoding(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.decoding
    }

    pub fn total_bytes(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Where the file `hash` lives (whether or not it is there).
    pub fn path(&self, hash: &str) -> PathBuf {
        blob_path(&self.dir, hash)
    }

    pub fn has(&self, hash: &str) -> bool {
        meshchat_shared::rooms::is_file_hash(hash) && self.path(hash).is_file()
    }

    /// Takes a file from `body`, at most `max` bytes; with `expect`, it
    /// must hash to that. Nothing is left behind on error.
    pub async fn receive<S, E>(&self, mut body: S, max: u64, expect: Option<&str>) -> Result<Blob, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.dir.join("tmp").join(format!("{:016x}", rand::random::<u64>()));
        let mut part = Partial { path: tmp.clone(), file: Some(crate::store::private::create(&tmp)?) };
        let mut hasher = Sha256::new();
        let size = part.take(&mut body, max, |chunk| hasher.update(chunk)).await?;
        let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if let Some(want) = expect
            && want != hash
        {
            return Err(FileError::Mismatch { want: want.to_owned(), got: hash });
        }
        let dest = self.path(&hash);
        let file = part.file.take();
        // Whether this copy is the one kept is decided by the link itself:
        // it fails if the file is there already, even if another copy of
        // it landed a moment ago (two peers' copies arriving at once were
        // both counted when the check came before the move).
        let placed = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            if let Some(f) = file {
                f.sync_all()?;
            }
            let shard = dest.parent().unwrap_or(Path::new("."));
            crate::store::private::dir(shard)?;
            let placed = match std::fs::hard_link(&tmp, &dest) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e),
            };
            std::fs::remove_file(&tmp)?;
            // The new name must survive a crash.
            if placed {
                std::fs::File::open(shard)?.sync_all()?;
            }
            Ok(placed)
        })
        .await
        .map_err(|e| FileError::Body(e.to_string()))?;
        // On an error the partial file is removed (if still there) on drop.
        let placed = placed?;
        part.path = PathBuf::new();
        if placed {
            self.total.fetch_add(size, Ordering::Relaxed);
        }
        Ok(Blob { hash, size })
    }

    /// Takes `body` (at most `max` bytes) into a file of its own among the
    /// files in the making, gone when the answer is dropped: what is read
    /// once and never kept (a picture an avatar is made from). Never in
    /// the store by hash, so nothing else can take it away meanwhile.
    pub async fn receive_scratch<S, E>(&self, mut body: S, max: u64, what: &str) -> Result<Scratch, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.scratch(what);
        let mut part = Partial { path: path.clone(), file: Some(crate::store::private::create(&path)?) };
        part.take(&mut body, max, |_| {}).await?;
        part.file = None;
        part.path = PathBuf::new();
        Ok(Scratch(path))
    }

    /// Removes a file nothing refers to any more.
    pub fn remove(&self, hash: &str) {
        if !meshchat_shared::rooms::is_file_hash(hash) {
            return;
        }
        let path = self.path(hash);
        if let Ok(meta) = std::fs::metadata(&path)
            && std::fs::remove_file(&path).is_ok()
        {
            self.total.fetch_sub(meta.len(), Ordering::Relaxed);
            let _ = std::fs::remove_file(thumb_path(&self.dir, hash));
        }
    }

    /// Where the thumbnail of an image goes.
    pub fn thumb(&self, hash: &str) -> PathBuf {
        thumb_path(&self.dir, hash)
    }

    /// A new path among the files in the making (cleared at start), on the
    /// same disk as the files, to write there and rename into place.
    pub fn scratch(&self, what: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{what}-{}", crate::infra::random_id()))
    }
}

fn blob_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(hash.get(..2).unwrap_or("xx")).join(hash)
}

fn thumb_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join("thumbs").join(format!("{hash}.png"))
}

/// An upload on its way: removed unless it was moved into place.
struct Partial {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Partial {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(chunk),
            None => Ok(()),
        }
    }

    /// Writes `body` here, each chunk seen by `each` too; its size, or
    /// too large past `max`.
    async fn take<S, E>(&mut self, body: &mut S, max: u64, mut each: impl FnMut(&[u8])) -> Result<u64, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FileError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(FileError::TooLarge { max });
            }
            each(&chunk);
            self.write(&chunk)?;
        }
        Ok(size)
    }
}

/// A file read once and removed when dropped ([`FileStore::receive_scratch`]).
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn files_land_by_hash_once_and_over_size_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::open(dir.path()).unwrap();
        let blob = files.receive(chunks(&[b"hello ", b"file"]), 10, None).await.unwrap();
        assert_eq!(blob.hash, "f3877e8a3d98f809d9f844060fbea2864a4b66980a22ff22297014d0c168db2e");
        assert_eq!(std::fs::read(files.path(&blob.hash)).unwrap(), b"hello file");
        assert_eq!((blob.size, files.total_bytes()), (10, 10));
        // The same bytes again: one copy.
        files.receive(chunks(&[b"hello file"]), 10, Some(&blob.hash)).await.unwrap();
        assert_eq!(files.total_bytes(), 10);
        let err = files.receive(chunks(&[b"0123456789", b"x"]), 10, None).await.unwrap_err();
        assert!(matches!(err, FileError::TooLarge { max: 10 }));
        let err = files.receive(chunks(&[b"other"]), 10, Some(&blob.hash)).await.unwrap_err();
        assert!(matches!(err, FileError::Mismatch { .. }));
        assert_eq!(std::fs::read_dir(dir.path().join("files/tmp")).unwrap().count(), 0, "nothing half done stays");
        files.remove(&blob.hash);
        assert!(!files.has(&blob.hash));
        assert_eq!(files.total_bytes(), 0);
    }
    /// Two peers' copies of one file arriving at once (a node fetching it
    /// from two peers): stored once, counted once (a full run saw
    /// `meshchat_files_bytes` count a file twice).
    #[tokio::test]
    async fn the_same_file_arriving_twice_at_once_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::open(dir.path()).unwrap();
        for round in 0..20u8 {
            let bytes: &'static [u8] = Box::leak(vec![round; 1000].into_boxed_slice());
            let (one, two) = ([bytes], [bytes]);
            let (a, b) = tokio::join!(files.receive(chunks(&one), 2000, None), files.receive(chunks(&two), 2000, None));
            assert_eq!(a.unwrap().hash, b.unwrap().hash);
            assert_eq!(files.total_bytes(), 1000 * (u64::from(round) + 1), "round {round}");
        }
    }
}
