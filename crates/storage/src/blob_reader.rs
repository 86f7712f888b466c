//! Streaming a stored blob file to a client.
//!
//! A read that cannot wait on a device runs on the async worker that sends the bytes,
//! with no hand-off between threads: always on a memory-backed filesystem (tmpfs,
//! ramfs), and elsewhere whenever the bytes are in the page cache
//! (`preadv2(RWF_NOWAIT)`); a chunk that would wait for the disk is read on a
//! blocking thread instead. Where the filesystem supports neither, a blocking thread
//! reads ahead of the client through a bounded channel. Every path reads positionally
//! into fresh buffers of at most [`READ_CHUNK`] bytes that are not zeroed first, so
//! memory per download stays bounded whatever the blob size.

use crate::blob::ByteStream;
use bytes::Bytes;
use futures_util::StreamExt;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Largest read, and so the largest body frame, when serving blobs.
const READ_CHUNK: usize = 1024 * 1024;
/// Chunks a read-ahead thread may hold ahead of the client.
const READ_AHEAD: usize = 4;

/// Where the reads of a store's files run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadMode {
    /// Memory-backed filesystem: a read never waits for a device, so it runs on the
    /// async worker.
    Inline,
    /// On the async worker when the bytes are cached (`RWF_NOWAIT`), else on a
    /// blocking thread.
    IfCached,
    /// A blocking thread reads ahead of the client.
    ReadAhead,
}

impl ReadMode {
    /// Decides for the filesystem holding `probe`, an open regular file.
    pub(crate) fn detect(probe: &File) -> ReadMode {
        if memory_backed(probe) {
            return ReadMode::Inline;
        }
        // The kernel checks RWF_NOWAIT support before looking at the file, so even a
        // read of an empty file answers the question.
        match pread(probe, 0, 1, libc::RWF_NOWAIT) {
            Ok(_) => ReadMode::IfCached,
            Err(e) if would_block(&e) => ReadMode::IfCached,
            Err(_) => ReadMode::ReadAhead,
        }
    }
}

/// `len` bytes of `file` from `offset`, as a stream of chunks; a file that ends early
/// gives an `UnexpectedEof` error and ends the stream.
pub(crate) fn stream(file: File, offset: u64, len: u64, mode: ReadMode) -> ByteStream {
    if mode == ReadMode::ReadAhead {
        return read_ahead(file, offset, len);
    }
    let state = Reading {
        file: Arc::new(file),
        offset,
        left: len,
    };
    futures_util::stream::unfold(state, move |mut st| async move {
        if st.left == 0 {
            return None;
        }
        let want = st.left.min(READ_CHUNK as u64) as usize;
        let read = match mode {
            ReadMode::Inline => pread(&st.file, st.offset, want, 0),
            _ => match pread(&st.file, st.offset, want, libc::RWF_NOWAIT) {
                Err(e) if would_block(&e) || unsupported(&e) => {
                    let (file, offset) = (st.file.clone(), st.offset);
                    tokio::task::spawn_blocking(move || pread(&file, offset, want, 0))
                        .await
                        .unwrap_or_else(|e| Err(io::Error::other(e)))
                }
                read => read,
            },
        };
        let item = st.advance(read);
        Some((item, st))
    })
    .boxed()
}

/// Where a download stands: the next offset and the bytes still to send.
struct Reading {
    file: Arc<File>,
    offset: u64,
    left: u64,
}

impl Reading {
    /// Accounts for one read; after an error (or a file that ended early) nothing more
    /// is read.
    fn advance(&mut self, read: io::Result<Vec<u8>>) -> io::Result<Bytes> {
        let item = match read {
            Ok(buf) if buf.is_empty() => Err(ended_early()),
            Ok(buf) => {
                self.offset += buf.len() as u64;
                self.left -= buf.len() as u64;
                Ok(Bytes::from(buf))
            }
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.left = 0;
        }
        item
    }
}

/// A blocking thread reads ahead of the client; it stops as soon as the receiver
/// goes away.
fn read_ahead(file: File, offset: u64, len: u64) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut st = Reading {
            file: Arc::new(file),
            offset,
            left: len,
        };
        while st.left > 0 {
            let want = st.left.min(READ_CHUNK as u64) as usize;
            let item = st.advance(pread(&st.file, st.offset, want, 0));
            if tx.blocking_send(item).is_err() {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// One positional read of up to `want` bytes into a fresh buffer that is not zeroed
/// first (zeroing 1 MiB per chunk was a tenth of the CPU of a large download).
fn pread(file: &File, offset: u64, want: usize, flags: libc::c_int) -> io::Result<Vec<u8>> {
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = Vec::<u8>::with_capacity(want);
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: want,
    };
    loop {
        // SAFETY: `iov` describes the `want` bytes of `buf`'s spare capacity, which
        // stay allocated and unaliased for the call; the kernel writes at most
        // `iov_len` bytes there.
        let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, flags) };
        if n >= 0 {
            // SAFETY: the kernel initialised the first `n` bytes, and `n <= want`.
            unsafe { buf.set_len(n as usize) };
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn memory_backed(file: &File) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct it is given when it returns 0; it is read only
    // then.
    if unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: initialised by the successful call above.
    let kind = unsafe { st.assume_init() }.f_type;
    kind == libc::TMPFS_MAGIC || kind == RAMFS_MAGIC
}

/// `RAMFS_MAGIC` from linux/magic.h (not in the libc crate).
const RAMFS_MAGIC: libc::__fsword_t = 0x858458f6;

fn would_block(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAGAIN)
}

fn unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

fn ended_early() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "blob file shorter than expected",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    const MODES: [ReadMode; 3] = [ReadMode::Inline, ReadMode::IfCached, ReadMode::ReadAhead];

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    async fn collect(s: ByteStream) -> io::Result<(Vec<u8>, usize)> {
        let frames: Vec<Bytes> = s.try_collect().await?;
        assert!(frames
            .iter()
            .all(|f| !f.is_empty() && f.len() <= READ_CHUNK));
        Ok((frames.concat(), frames.len()))
    }

    #[tokio::test]
    async fn every_mode_streams_the_asked_range_in_bounded_chunks() {
        let bytes: Vec<u8> = (0..(2 * READ_CHUNK + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let (_dir, path) = file_with(&bytes);
        for mode in MODES {
            for (offset, len) in [
                (0, bytes.len()),
                (1, bytes.len() - 1),
                (READ_CHUNK + 3, 100),
                (5, 0),
            ] {
                let file = File::open(&path).unwrap();
                let (got, frames) = collect(stream(file, offset as u64, len as u64, mode))
                    .await
                    .unwrap();
                assert_eq!(got, &bytes[offset..offset + len], "{mode:?} {offset}+{len}");
                assert_eq!(frames, len.div_ceil(READ_CHUNK), "{mode:?} {offset}+{len}");
            }
        }
    }

    #[tokio::test]
    async fn a_file_shorter_than_asked_is_an_error_not_a_short_blob() {
        let (_dir, path) = file_with(&[1u8; 1000]);
        for mode in MODES {
            let file = File::open(&path).unwrap();
            let err = collect(stream(file, 0, 2000, mode)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{mode:?}");
        }
    }

    #[test]
    fn detection_picks_a_mode_that_reads() {
        let (_dir, path) = file_with(b"probe");
        let mode = ReadMode::detect(&File::open(&path).unwrap());
        // tmp dirs are tmpfs on some machines and disk filesystems on others; either
        // way the mode must be one the filesystem supports.
        if mode == ReadMode::IfCached {
            let got = pread(&File::open(&path).unwrap(), 0, 5, libc::RWF_NOWAIT);
            assert!(
                got.as_deref()
                    .map(|b| b == b"probe")
                    .unwrap_or_else(would_block),
                "{got:?}"
            );
        }
        if std::path::Path::new("/dev/shm").is_dir() {
            let shm = tempfile::NamedTempFile::new_in("/dev/shm").unwrap();
            assert_eq!(ReadMode::detect(shm.as_file()), ReadMode::Inline);
        }
    }
}
