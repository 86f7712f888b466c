//! The floor under any verifying registry's blob push on this machine (a benchmark
//! instrument for `bench/run.sh`, not part of Airlock).
//!
//! A deliberately minimal HTTP/1.1 sink: one PUT at a time with a `Content-Length`
//! body, and only the work every registry must do for a push — receive the bytes,
//! SHA-256 them on a thread of their own, write them on another thread to a file in the
//! given directory, fsync — with no HTTP framework, async runtime, auth, metadata or
//! rename. The bench pushes the same blobs with the same `curl -T` into it as into the
//! servers, in the same run, so push throughput can be read against what the machine
//! allows. The answer carries the body's digest in `X-Body-Digest`, so the bench can
//! check that every byte was hashed.
//!
//! ```text
//! cargo run --release -p airlock-storage --example push_floor -- PORT DIR MODE
//! ```
//! MODE is `receive`, `hash`, `write` or `hash+write`.

use airlock_oci::{Algorithm, Digester};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread;

/// Receive buffer size.
const BUF: usize = 1 << 20;
/// Buffers in flight per worker thread.
const DEPTH: usize = 8;

type Chunk = Arc<Vec<u8>>;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, port, dir, mode] = args.as_slice() else {
        eprintln!("usage: push_floor PORT DIR receive|hash|write|hash+write");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("a port")))?;
    for (seq, conn) in listener.incoming().enumerate() {
        let path = std::path::Path::new(dir).join(format!("floor-{}-{seq}", std::process::id()));
        match handle(conn?, &path, mode.contains("hash"), mode.contains("write")) {
            // A readiness probe connects and closes without a request.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => eprintln!("push_floor: {e}"),
            Ok(()) => {}
        }
    }
    Ok(())
}

fn handle(
    mut conn: TcpStream,
    path: &std::path::Path,
    hashing: bool,
    writing: bool,
) -> std::io::Result<()> {
    let (length, first) = read_head(&mut conn)?;
    let mut senders: Vec<SyncSender<Chunk>> = Vec::new();
    let hasher = hashing.then(|| {
        let (tx, rx) = sync_channel::<Chunk>(DEPTH);
        senders.push(tx);
        thread::spawn(move || {
            let mut d = Digester::new(Algorithm::Sha256);
            rx.iter().for_each(|c| d.update(&c));
            d.finish()
        })
    });
    let writer = if writing {
        let (tx, rx) = sync_channel::<Chunk>(DEPTH);
        senders.push(tx);
        let mut file = std::fs::File::create(path)?;
        Some(thread::spawn(move || -> std::io::Result<std::fs::File> {
            for c in rx {
                file.write_all(&c)?;
            }
            Ok(file)
        }))
    } else {
        None
    };
    // Buffers are recycled once both threads are done with them, so the loop neither
    // allocates nor zeroes memory per chunk.
    let mut pool: Vec<Chunk> = Vec::new();
    let mut got = first.len() as u64;
    for tx in &senders {
        let _ = tx.send(Arc::new(first.clone()));
    }
    while got < length {
        let want = BUF.min((length - got) as usize);
        let mut chunk = match pool.iter().position(|c| Arc::strong_count(c) == 1) {
            Some(i) => pool.swap_remove(i),
            None => Arc::new(vec![0u8; BUF]),
        };
        let buf = Arc::get_mut(&mut chunk).expect("a buffer nobody else holds");
        buf.resize(want, 0);
        let mut k = 0;
        while k < want {
            match conn.read(&mut buf[k..])? {
                0 => break,
                n => k += n,
            }
        }
        if k == 0 {
            break;
        }
        buf.truncate(k);
        got += k as u64;
        for tx in &senders {
            let _ = tx.send(chunk.clone());
        }
        pool.push(chunk);
    }
    drop(senders);
    let digest = hasher.map(|h| h.join().expect("hasher thread"));
    if let Some(w) = writer {
        w.join().expect("writer thread")?.sync_all()?;
    }
    let status = if got == length {
        "201 Created"
    } else {
        "400 Bad Request"
    };
    let digest = digest.map(|d| d.to_string()).unwrap_or_default();
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\nX-Body-Digest: {digest}\r\n\r\n"
    )?;
    // Like a registry, keep the file until after answering (freeing 1 GiB of pages
    // is not part of a push).
    if writing {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Reads the request head; returns the declared body length and the body bytes that
/// arrived with the head.
fn read_head(conn: &mut TcpStream) -> std::io::Result<(u64, Vec<u8>)> {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head over 64 KiB"));
        }
    };
    let text = String::from_utf8_lossy(&head[..end]);
    let length = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
    Ok((length, head[end + 4..].to_vec()))
}
