//! The filesystem `BlobStore` adapter.
//!
//! Layout under the root: `blobs/<alg>/<2 hex>/<hex>` for committed content,
//! `uploads/<uuid>` for upload areas, `tmp/` for in-flight small writes. A blob is
//! made visible by `fsync` + `rename` + directory `fsync`, so a crash never leaves a
//! partial file under a digest name.
//!
//! Appends run as a pipeline: the async side receives body frames, gathers them into
//! batches and hands each batch through bounded channels to two blocking threads, one
//! writing (`writev`, no copy) and one hashing. Memory is bounded by the channels,
//! whatever the blob size. The running hash of each upload
//! is kept in memory so a commit need not re-read the bytes; after a restart (or for a
//! sha512 digest) the stored bytes are re-hashed instead. Downloads stream through
//! `blob_reader`, which decides once per store where reads may run.

use crate::blob::{BlobStore, ByteStream, CommitError, UploadId};
use crate::blob_reader::{self, ReadMode};
use airlock_oci::{Algorithm, Digest, Digester};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Batches in flight between the receiving task and the writer and hasher threads.
const PIPELINE_DEPTH: usize = 4;
/// Body frames are handed on in batches of at least this many bytes (or frames)...
const BATCH_BYTES: usize = 512 * 1024;
/// ...or of this many frames, whichever comes first (well under `IOV_MAX`).
const BATCH_FRAMES: usize = 64;

/// Body frames handed to the writer and the hasher together, shared, never copied.
type Batch = Arc<[Bytes]>;

/// Per-upload state: the sha256 of the bytes so far, valid for exactly `len` bytes.
struct UploadState {
    hash: Option<(Digester, u64)>,
}

pub struct FsBlobStore {
    root: PathBuf,
    uploads: Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<UploadState>>>>,
    /// Where reads of blob files run (decided once for the filesystem at open).
    read_mode: ReadMode,
}

impl FsBlobStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        for dir in ["blobs/sha256", "blobs/sha512", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        let probe = root
            .join("tmp")
            .join(format!("read-probe-{}", uuid::Uuid::new_v4()));
        let read_mode = ReadMode::detect(&std::fs::File::create(&probe)?);
        std::fs::remove_file(&probe)?;
        Ok(FsBlobStore {
            root,
            uploads: Mutex::new(HashMap::new()),
            read_mode,
        })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        blob_path(&self.root, d)
    }

    fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(id.to_string())
    }

    fn upload_lock(&self, id: &UploadId) -> Arc<tokio::sync::Mutex<UploadState>> {
        let mut map = self.uploads.lock().expect("upload map poisoned");
        map.entry(id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(UploadState { hash: None })))
            .clone()
    }

    fn forget_upload(&self, id: &UploadId) {
        self.uploads.lock().expect("upload map poisoned").remove(id);
    }
}

fn blob_path(root: &Path, d: &Digest) -> PathBuf {
    let hex = d.hex();
    root.join("blobs")
        .join(d.algorithm().as_str())
        .join(&hex[..2])
        .join(hex)
}

/// Moves a verified file into place under its digest, durably.
fn install(root: &Path, tmp: &Path, digest: &Digest) -> std::io::Result<()> {
    let dest = blob_path(root, digest);
    let dir = dest.parent().expect("blob path has a parent");
    std::fs::create_dir_all(dir)?;
    std::fs::rename(tmp, &dest)?;
    std::fs::File::open(dir)?.sync_all()
}

fn hash_file(path: &Path, algorithm: Algorithm) -> std::io::Result<(Digest, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut d = Digester::new(algorithm);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
        total += n as u64;
    }
    Ok((d.finish(), total))
}

/// Writes every byte of `bufs` with as few `writev` calls as the kernel allows.
fn write_all_vectored(file: &mut std::fs::File, bufs: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn not_found_is_none<T>(r: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn create_upload(&self, id: &UploadId) -> std::io::Result<()> {
        let path = self.upload_path(id);
        blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map(drop)
        })
        .await?;
        let lock = self.upload_lock(id);
        lock.lock().await.hash = Some((Digester::new(Algorithm::Sha256), 0));
        Ok(())
    }

    async fn append(
        &self,
        id: &UploadId,
        expected_offset: Option<u64>,
        declared_len: Option<u64>,
        mut data: ByteStream,
        max_size: u64,
    ) -> Result<u64, CommitError> {
        let lock = self.upload_lock(id);
        let mut state = lock.lock().await;
        let path = self.upload_path(id);
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                drop(state);
                self.forget_upload(id);
                return Err(CommitError::UnknownUpload);
            }
            Err(e) => return Err(e.into()),
        };
        let start = file.metadata()?.len();
        if let Some(given) = expected_offset {
            if given != start {
                return Err(CommitError::OutOfOrder {
                    given,
                    current: start,
                });
            }
        }
        if let Some(len) = declared_len {
            if start.saturating_add(len) > max_size {
                return Err(CommitError::TooLarge { limit: max_size });
            }
        }
        // Continue the running hash only if it covers exactly the bytes on disk.
        let hasher = match state.hash.take() {
            Some((h, n)) if n == start => Some(h),
            _ => None,
        };
        let saved = hasher.clone();

        // Two threads work on each batch of frames in parallel: one writes it, one
        // hashes it (frames are reference-counted, never copied). Hashing is the
        // costliest step, so it gets a thread of its own. Frames are gathered into
        // batches of about `BATCH_BYTES` first, so each thread wakes once per batch and
        // each write is one `writev` however small the frames are.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(PIPELINE_DEPTH);
        let writer =
            tokio::task::spawn_blocking(move || -> std::io::Result<(u64, std::fs::File)> {
                let mut file = file;
                file.seek(SeekFrom::Start(start))?;
                let mut written = 0u64;
                while let Some(batch) = rx.blocking_recv() {
                    write_all_vectored(&mut file, &batch)?;
                    written += batch.iter().map(|b| b.len() as u64).sum::<u64>();
                }
                Ok((written, file))
            });
        let hashing = hasher.map(|mut h| {
            let (htx, mut hrx) = tokio::sync::mpsc::channel::<Batch>(PIPELINE_DEPTH);
            let task = tokio::task::spawn_blocking(move || {
                while let Some(batch) = hrx.blocking_recv() {
                    batch.iter().for_each(|b| h.update(b));
                }
                h
            });
            (htx, task)
        });
        let (htx, hash_task) = match hashing {
            Some((htx, task)) => (Some(htx), Some(task)),
            None => (None, None),
        };

        let mut received = 0u64;
        let mut failure: Option<CommitError> = None;
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_bytes = 0usize;
        loop {
            let frame = data.next().await;
            let end = frame.is_none();
            match frame {
                None => {}
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if start + received > max_size {
                        failure = Some(CommitError::TooLarge { limit: max_size });
                        break;
                    }
                    if declared_len.is_some_and(|d| received > d) {
                        failure = Some(CommitError::LengthMismatch {
                            declared: declared_len.unwrap_or(0),
                            actual: received,
                        });
                        break;
                    }
                    pending_bytes += chunk.len();
                    pending.push(chunk);
                }
                Some(Err(e)) => {
                    failure = Some(CommitError::Body(e));
                    break;
                }
            }
            let full = pending_bytes >= BATCH_BYTES || pending.len() >= BATCH_FRAMES;
            if !pending.is_empty() && (full || end) {
                let batch: Batch = std::mem::take(&mut pending).into();
                pending_bytes = 0;
                if let Some(htx) = &htx {
                    // The hasher only stops when its sender is dropped.
                    let _ = htx.send(batch.clone()).await;
                }
                if tx.send(batch).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            if end {
                break;
            }
        }
        drop(tx);
        drop(htx);
        let joined = writer.await.map_err(std::io::Error::other)?;
        let hasher = match hash_task {
            Some(task) => Some(task.await.map_err(std::io::Error::other)?),
            None => None,
        };
        if failure.is_none() {
            if let Some(d) = declared_len {
                if d != received {
                    failure = Some(CommitError::LengthMismatch {
                        declared: d,
                        actual: received,
                    });
                }
            }
        }
        match (joined, failure) {
            (Ok((written, _file)), None) => {
                let len = start + written;
                state.hash = hasher.map(|h| (h, len));
                Ok(len)
            }
            (joined, failure) => {
                // Leave the upload exactly as it was before this request.
                let f = std::fs::OpenOptions::new().write(true).open(&path)?;
                f.set_len(start)?;
                state.hash = saved.map(|h| (h, start));
                Err(match (joined, failure) {
                    (_, Some(f)) => f,
                    (Err(e), None) => CommitError::Io(e),
                    (Ok(_), None) => unreachable!("handled above"),
                })
            }
        }
    }

    async fn upload_size(&self, id: &UploadId) -> std::io::Result<Option<u64>> {
        let path = self.upload_path(id);
        not_found_is_none(tokio::fs::metadata(path).await.map(|m| m.len()))
    }

    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64, CommitError> {
        let lock = self.upload_lock(id);
        let mut state = lock.lock().await;
        let path = self.upload_path(id);
        let len = match not_found_is_none(std::fs::metadata(&path))? {
            Some(m) => m.len(),
            None => {
                drop(state);
                self.forget_upload(id);
                return Err(CommitError::UnknownUpload);
            }
        };
        let running = match state.hash.take() {
            Some((h, n)) if n == len && h.algorithm() == expected.algorithm() => Some(h),
            other => {
                state.hash = other;
                None
            }
        };
        let alg = expected.algorithm();
        let p = path.clone();
        let (actual, size) = match running {
            Some(h) => (h.finish(), len),
            None => blocking(move || hash_file(&p, alg)).await?,
        };
        if &actual != expected {
            // The upload stays as it was, so the client may still fix it.
            return Err(CommitError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let tmp = self.root.join("tmp").join(id.to_string());
        let digest = expected.clone();
        let root = self.root.clone();
        blocking(move || {
            // Durable before visible: fsync the data, then rename into place.
            std::fs::File::open(&path)?.sync_all()?;
            std::fs::rename(&path, &tmp)?;
            install(&root, &tmp, &digest)
        })
        .await?;
        drop(state);
        self.forget_upload(id);
        Ok(size)
    }

    async fn abort(&self, id: &UploadId) -> std::io::Result<()> {
        let lock = self.upload_lock(id);
        let _state = lock.lock().await;
        not_found_is_none(tokio::fs::remove_file(self.upload_path(id)).await)?;
        drop(_state);
        self.forget_upload(id);
        Ok(())
    }

    async fn list_uploads(&self) -> std::io::Result<Vec<UploadId>> {
        let dir = self.root.join("uploads");
        blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                let name = entry?.file_name();
                if let Some(id) = name.to_str().and_then(UploadId::parse) {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put(&self, digest: &Digest, bytes: Bytes) -> Result<(), CommitError> {
        let actual = Digest::of(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(CommitError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        let tmp = self.root.join("tmp").join(UploadId::new().to_string());
        let digest = digest.clone();
        let root = self.root.clone();
        blocking(move || {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            install(&root, &tmp, &digest)
        })
        .await?;
        Ok(())
    }

    async fn stat(&self, digest: &Digest) -> std::io::Result<Option<u64>> {
        not_found_is_none(
            tokio::fs::metadata(self.blob_path(digest))
                .await
                .map(|m| m.len()),
        )
    }

    async fn read(
        &self,
        digest: &Digest,
        offset: u64,
        len: u64,
    ) -> std::io::Result<Option<ByteStream>> {
        let path = self.blob_path(digest);
        let file = blocking(move || not_found_is_none(std::fs::File::open(path))).await?;
        Ok(file.map(|file| blob_reader::stream(file, offset, len, self.read_mode)))
    }

    async fn read_all(&self, digest: &Digest, max: u64) -> std::io::Result<Option<Bytes>> {
        let path = self.blob_path(digest);
        blocking(move || {
            let Some(f) = not_found_is_none(std::fs::File::open(path))? else {
                return Ok(None);
            };
            if f.metadata()?.len() > max {
                return Err(std::io::Error::other("blob larger than allowed"));
            }
            let mut buf = Vec::new();
            f.take(max).read_to_end(&mut buf)?;
            Ok(Some(Bytes::from(buf)))
        })
        .await
    }

    async fn delete(&self, digest: &Digest) -> std::io::Result<()> {
        not_found_is_none(tokio::fs::remove_file(self.blob_path(digest)).await).map(drop)
    }

    async fn list(&self) -> std::io::Result<Vec<Digest>> {
        let root = self.root.join("blobs");
        blocking(move || {
            let mut out = Vec::new();
            for alg in ["sha256", "sha512"] {
                let Some(prefixes) = not_found_is_none(std::fs::read_dir(root.join(alg)))? else {
                    continue;
                };
                for prefix in prefixes {
                    let prefix = prefix?;
                    if !prefix.file_type()?.is_dir() {
                        continue;
                    }
                    for entry in std::fs::read_dir(prefix.path())? {
                        let name = entry?.file_name();
                        if let Some(d) = name
                            .to_str()
                            .and_then(|hex| Digest::parse(&format!("{alg}:{hex}")).ok())
                        {
                            out.push(d);
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn verify(&self, digest: &Digest) -> std::io::Result<Option<bool>> {
        let path = self.blob_path(digest);
        let expected = digest.clone();
        blocking(move || {
            Ok(not_found_is_none(hash_file(&path, expected.algorithm()))?
                .map(|(actual, _)| actual == expected))
        })
        .await
    }

    async fn clean_temporary(&self) -> std::io::Result<usize> {
        let dir = self.root.join("tmp");
        blocking(move || {
            let mut n = 0;
            for entry in std::fs::read_dir(dir)? {
                std::fs::remove_file(entry?.path())?;
                n += 1;
            }
            Ok(n)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn body(parts: &[&'static [u8]]) -> ByteStream {
        let parts: Vec<_> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(parts).boxed()
    }

    #[tokio::test]
    async fn chunked_upload_commits_verified_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let id = UploadId::new();
        store.create_upload(&id).await.unwrap();
        assert_eq!(
            store
                .append(&id, Some(0), None, body(&[b"hello "]), 100)
                .await
                .unwrap(),
            6
        );
        let err = store
            .append(&id, Some(0), None, body(&[b"x"]), 100)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            CommitError::OutOfOrder {
                given: 0,
                current: 6
            }
        ));
        assert_eq!(
            store
                .append(&id, Some(6), Some(5), body(&[b"wor", b"ld"]), 100)
                .await
                .unwrap(),
            11
        );
        let wrong = Digest::sha256_of(b"nope");
        assert!(matches!(
            store.commit(&id, &wrong).await,
            Err(CommitError::DigestMismatch { .. })
        ));
        let right = Digest::sha256_of(b"hello world");
        assert_eq!(store.commit(&id, &right).await.unwrap(), 11);
        assert_eq!(store.stat(&right).await.unwrap(), Some(11));
        assert_eq!(store.verify(&right).await.unwrap(), Some(true));
        assert!(store.upload_size(&id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn failed_append_leaves_upload_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let id = UploadId::new();
        store.create_upload(&id).await.unwrap();
        store
            .append(&id, None, None, body(&[b"abc"]), 10)
            .await
            .unwrap();
        let err = store
            .append(&id, None, None, body(&[b"0123456789"]), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, CommitError::TooLarge { .. }));
        let err = store
            .append(&id, None, Some(5), body(&[b"12"]), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, CommitError::LengthMismatch { .. }));
        assert_eq!(store.upload_size(&id).await.unwrap(), Some(3));
        let d512 = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(store.commit(&id, &d512).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn frames_of_any_size_are_batched_without_loss() {
        // Many tiny frames (more than a batch holds by count), frames straddling the
        // batch size, and one frame larger than a batch, all in one append.
        let mut frames: Vec<Bytes> = (0..(3 * BATCH_FRAMES + 5))
            .map(|i| Bytes::from(vec![i as u8; 1 + i % 7]))
            .collect();
        frames.push(Bytes::from(vec![0xAB; BATCH_BYTES - 3]));
        frames.push(Bytes::from(vec![0xCD; 2 * BATCH_BYTES + 11]));
        frames.push(Bytes::from_static(b"tail"));
        let whole: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        let stream = stream::iter(frames.into_iter().map(Ok)).boxed();

        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let id = UploadId::new();
        store.create_upload(&id).await.unwrap();
        let len = whole.len() as u64;
        assert_eq!(
            store
                .append(&id, Some(0), Some(len), stream, u64::MAX)
                .await
                .unwrap(),
            len
        );
        let digest = Digest::sha256_of(&whole);
        assert_eq!(store.commit(&id, &digest).await.unwrap(), len);
        let stored = store.read_all(&digest, u64::MAX).await.unwrap().unwrap();
        assert!(stored[..] == whole[..]);
    }
}
