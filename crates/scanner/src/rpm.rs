//! The RPM cataloger: installed packages of Red Hat-family and SUSE-family images
//! from the SQLite rpm database (`var/lib/rpm/rpmdb.sqlite`,
//! `usr/lib/sysimage/rpm/rpmdb.sqlite`), read from memory — the database bytes never
//! touch the disk — and the RPM header blobs stored in it.
//!
//! Not covered: the Berkeley DB (`Packages`) and NDB (`Packages.db`) backends of
//! older and SUSE images — there is no maintained pure-Rust reader for them, and
//! this module does not hand-roll one.
//!
//! Both the database and the headers are attacker input: SQLite opens the bytes
//! read-only, with defensive settings and an instruction budget; the header parser
//! bounds-checks every offset and count and caps entry count and data size.

use crate::catalog::{OsRelease, Package};
use rusqlite::{Connection, DatabaseName, OpenFlags};

/// Most packages read from one database (a large RHEL image has a few thousand).
const MAX_PACKAGES: usize = 100_000;
/// Most index entries of one header (rpm itself refuses more than 0xffff).
const MAX_ENTRIES: usize = 0xffff;
/// Largest data store of one header (rpm's own limit is 256 MiB; real headers of
/// installed packages are well below 16 MiB even with file lists).
const MAX_DATA: usize = 16 << 20;
/// Longest string read out of a header.
const MAX_STRING: usize = 4096;
/// SQLite virtual-machine steps allowed for the whole read, checked every 1000.
const MAX_SQLITE_STEPS: u64 = 200_000_000;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_MODULARITYLABEL: u32 = 5096;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of one installed package's header that the scanner uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: Option<String>,
    /// The source package file, e.g. `openssl-3.0.7-24.el9.src.rpm`.
    pub source_rpm: Option<String>,
    /// `name:stream:version:context` for packages from a module stream.
    pub modularity_label: Option<String>,
}

impl Header {
    /// `[EPOCH:]VERSION-RELEASE`, as RPM-family OSV advisories write fixed versions.
    pub fn evr(&self) -> String {
        let vr = if self.release.is_empty() {
            self.version.clone()
        } else {
            format!("{}-{}", self.version, self.release)
        };
        match self.epoch {
            Some(e) => format!("{e}:{vr}"),
            None => vr,
        }
    }

    /// The source package's name and `VERSION-RELEASE`, from `SOURCERPM`.
    pub fn source(&self) -> Option<(String, String)> {
        let file = self.source_rpm.as_deref()?;
        let stem = file
            .strip_suffix(".src.rpm")
            .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
        let (rest, release) = stem.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        if name.is_empty() || version.is_empty() || release.is_empty() {
            return None;
        }
        Some((name.to_owned(), format!("{version}-{release}")))
    }
}

/// Reads a header as rpmdb stores it: the header without its 8-byte magic — a
/// big-endian index-entry count and data length, the 16-byte index entries (tag,
/// type, offset, count) and the data store. `None` when it is malformed or has no
/// name or version.
pub fn parse_header(blob: &[u8]) -> Option<Header> {
    let be32 = |at: usize| -> Option<u32> {
        let b = blob.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let entries = be32(0)? as usize;
    let data_len = be32(4)? as usize;
    if entries == 0 || entries > MAX_ENTRIES || data_len > MAX_DATA {
        return None;
    }
    let data_start = 8 + entries * 16;
    let data = blob.get(data_start..data_start.checked_add(data_len)?)?;
    let mut h = Header::default();
    for i in 0..entries {
        let at = 8 + i * 16;
        let (tag, kind, offset, count) = (be32(at)?, be32(at + 4)?, be32(at + 8)?, be32(at + 12)?);
        let offset = offset as usize;
        match tag {
            TAG_NAME => h.name = string(data, kind, offset, count)?,
            TAG_VERSION => h.version = string(data, kind, offset, count)?,
            TAG_RELEASE => h.release = string(data, kind, offset, count)?,
            TAG_EPOCH if kind == TYPE_INT32 && count >= 1 => {
                let b = data.get(offset..offset.checked_add(4)?)?;
                h.epoch = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            TAG_ARCH => h.arch = string(data, kind, offset, count),
            TAG_SOURCERPM => h.source_rpm = string(data, kind, offset, count),
            TAG_MODULARITYLABEL => h.modularity_label = string(data, kind, offset, count),
            _ => {}
        }
    }
    let printable = |s: &str| !s.is_empty() && !s.chars().any(char::is_control);
    (printable(&h.name) && printable(&h.version)).then_some(h)
}

/// The (first) string of a STRING, STRING_ARRAY or I18NSTRING entry: the bytes
/// from `offset` up to a NUL, which must lie inside the data store.
fn string(data: &[u8], kind: u32, offset: usize, count: u32) -> Option<String> {
    if !matches!(kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) || count == 0 {
        return None;
    }
    let rest = data.get(offset..)?;
    let end = rest.iter().take(MAX_STRING + 1).position(|&b| b == 0)?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

/// Why a database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RpmDbError {
    #[error("not an SQLite database")]
    NotSqlite,
    #[error("no Packages table")]
    NoPackagesTable,
    #[error("rpm database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The header blobs of an `rpmdb.sqlite` image, at most [`MAX_PACKAGES`].
pub fn sqlite_headers(db: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    if db.len() < 100 || !db.starts_with(b"SQLite format 3\0") {
        return Err(RpmDbError::NotSqlite);
    }
    let mut bytes = db.to_vec();
    // rpm keeps its database in WAL mode (header bytes 18 and 19 are 2); an
    // in-memory database cannot open WAL files, and an image carries only the
    // checkpointed main file that matters, so read it as a rollback-journal one.
    if bytes[18] == 2 && bytes[19] == 2 {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    let mut conn = Connection::open_with_flags(
        ":memory:",
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    load(&mut conn, &bytes)?;
    // The schema comes from the image: no functions with side effects from it, no
    // writes, and stop a query that runs away (a recursive view, a looping b-tree).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA,
        false,
    )?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cell_size_check = ON;")?;
    let mut steps = 0u64;
    conn.progress_handler(
        1000,
        Some(move || {
            steps += 1000;
            steps > MAX_SQLITE_STEPS
        }),
    );
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |r| r.get(0),
        )
        .ok();
    if kind.as_deref() != Some("table") {
        return Err(RpmDbError::NoPackagesTable);
    }
    let mut stmt = conn.prepare("SELECT blob FROM Packages LIMIT ?1")?;
    let rows = stmt.query_map([MAX_PACKAGES as i64], |r| {
        Ok(match r.get_ref(0)? {
            rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
            _ => Vec::new(),
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

/// Hands `bytes` to SQLite as the connection's main database, read-only.
fn load(conn: &mut Connection, bytes: &[u8]) -> Result<(), RpmDbError> {
    // rusqlite 0.32 deserializes only buffers SQLite allocated itself, which it
    // then owns (and frees on close, or at once if deserializing fails).
    let len = u64::try_from(bytes.len()).map_err(|_| RpmDbError::NotSqlite)?;
    // SAFETY: sqlite3_malloc64 returns NULL or a buffer of `len` bytes; we fill
    // exactly those bytes and pass ownership to `OwnedData`, which frees it with
    // sqlite3_free (or hands it to sqlite3_deserialize, which does).
    let data = unsafe {
        let ptr = rusqlite::ffi::sqlite3_malloc64(len).cast::<u8>();
        let ptr = std::ptr::NonNull::new(ptr).ok_or(RpmDbError::NotSqlite)?;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len());
        rusqlite::serialize::OwnedData::from_raw_nonnull(ptr, bytes.len())
    };
    conn.deserialize(DatabaseName::Main, data, true)?;
    Ok(())
}

/// The installed packages of an `rpmdb.sqlite`. A database that does not open
/// yields none; headers that do not parse are skipped, and so are the
/// `gpg-pubkey` entries rpm files imported signing keys under.
///
/// Advisories are matched by binary package name: the OSV records of AlmaLinux,
/// Rocky Linux and SUSE/openSUSE list every affected binary RPM, not the source
/// package, so the source name and version are recorded for reports only.
pub fn sqlite(db: &[u8], os: &OsRelease, layer: &str, path: &str) -> Vec<Package> {
    let Ok(blobs) = sqlite_headers(db) else {
        return Vec::new();
    };
    blobs
        .iter()
        .filter_map(|b| parse_header(b))
        .filter(|h| h.name != "gpg-pubkey")
        .map(|h| package(&h, os, layer, path))
        .collect()
}

/// The fallback ecosystem of RPM packages on a distribution OSV has no advisories
/// for (Fedora, CentOS, RHEL — whose OSV ecosystem names a product stream that
/// os-release does not tell).
const UNKNOWN_RPM_ECOSYSTEM: &str = "RPM";

fn package(h: &Header, os: &OsRelease, layer: &str, path: &str) -> Package {
    let version = h.evr();
    let (source_name, source_version) = match h.source() {
        Some((n, vr)) => (n, h.epoch.map(|e| format!("{e}:{vr}")).unwrap_or(vr)),
        None => (h.name.clone(), version.clone()),
    };
    let namespace = if os.id.is_empty() { "unknown" } else { &os.id };
    let vr = if h.release.is_empty() {
        h.version.clone()
    } else {
        format!("{}-{}", h.version, h.release)
    };
    let mut purl = format!(
        "pkg:rpm/{}/{}@{}",
        purl_encode(namespace),
        purl_encode(&h.name),
        purl_encode(&vr)
    );
    let mut qualifiers = Vec::new();
    if let Some(arch) = &h.arch {
        qualifiers.push(format!("arch={}", purl_encode(arch)));
    }
    if let Some(e) = h.epoch {
        qualifiers.push(format!("epoch={e}"));
    }
    if !qualifiers.is_empty() {
        purl.push('?');
        purl.push_str(&qualifiers.join("&"));
    }
    Package {
        name: h.name.clone(),
        version,
        ecosystem: os
            .ecosystem()
            .unwrap_or_else(|| UNKNOWN_RPM_ECOSYSTEM.to_owned()),
        purl,
        source_name,
        source_version,
        layer: layer.to_owned(),
        path: path.to_owned(),
    }
}

fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An rpmdb header blob of these (tag, value) entries: strings as STRING,
    /// numbers as INT32.
    pub fn header(entries: &[(u32, HeaderValue)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, value) in entries {
            let (kind, bytes) = match value {
                HeaderValue::Str(s) => (TYPE_STRING, [s.as_bytes(), &[0]].concat()),
                HeaderValue::Int(n) => {
                    while data.len() % 4 != 0 {
                        data.push(0);
                    }
                    (TYPE_INT32, n.to_be_bytes().to_vec())
                }
            };
            for v in [*tag, kind, data.len() as u32, 1] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            data.extend_from_slice(&bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    pub enum HeaderValue {
        Str(&'static str),
        Int(u32),
    }
    use HeaderValue::*;

    /// An rpmdb.sqlite image holding these header blobs.
    pub fn rpmdb(blobs: &[Vec<u8>]) -> Vec<u8> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
             CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
        )
        .unwrap();
        for b in blobs {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [b])
                .unwrap();
        }
        conn.serialize(DatabaseName::Main).unwrap().to_vec()
    }

    fn openssl() -> Vec<u8> {
        header(&[
            (TAG_NAME, Str("openssl-libs")),
            (TAG_VERSION, Str("3.0.7")),
            (TAG_RELEASE, Str("24.el9")),
            (TAG_EPOCH, Int(1)),
            (TAG_ARCH, Str("x86_64")),
            (TAG_SOURCERPM, Str("openssl-3.0.7-24.el9.src.rpm")),
        ])
    }

    #[test]
    fn headers_parse() {
        let h = parse_header(&openssl()).unwrap();
        assert_eq!(h.name, "openssl-libs");
        assert_eq!(h.evr(), "1:3.0.7-24.el9");
        assert_eq!(
            h.source(),
            Some(("openssl".to_owned(), "3.0.7-24.el9".to_owned()))
        );
        let plain = parse_header(&header(&[
            (TAG_NAME, Str("bash")),
            (TAG_VERSION, Str("5.1.8")),
            (TAG_RELEASE, Str("6.el9_1")),
        ]))
        .unwrap();
        assert_eq!((plain.evr().as_str(), plain.epoch), ("5.1.8-6.el9_1", None));
        assert_eq!(plain.source(), None);
    }

    #[test]
    fn malformed_headers_are_refused_not_panicked_on() {
        let good = openssl();
        // every truncation
        for n in 0..good.len() {
            let _ = parse_header(&good[..n]);
        }
        assert!(parse_header(&good[..good.len() - 1]).is_none());
        // huge counts and lengths
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&huge).is_none());
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&huge).is_none());
        // an offset past the data store, and a string without its NUL
        let mut off = good.clone();
        off[8 + 8..8 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&off).is_none());
        let mut no_nul = header(&[(TAG_NAME, Str("x")), (TAG_VERSION, Str("1"))]);
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        assert!(parse_header(&no_nul).is_none());
        // an epoch that is a string is ignored, not misread
        let h = parse_header(&header(&[
            (TAG_NAME, Str("x")),
            (TAG_VERSION, Str("1")),
            (TAG_EPOCH, Str("1")),
        ]))
        .unwrap();
        assert_eq!(h.epoch, None);
    }

    #[test]
    fn sqlite_databases_are_read_from_memory() {
        let key = header(&[
            (TAG_NAME, Str("gpg-pubkey")),
            (TAG_VERSION, Str("fd431d51")),
            (TAG_RELEASE, Str("4ae0493b")),
        ]);
        let db = rpmdb(&[openssl(), key, b"garbage".to_vec()]);
        let os = OsRelease::parse("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n");
        let p = sqlite(&db, &os, "sha256:l", "var/lib/rpm/rpmdb.sqlite");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].name, "openssl-libs");
        assert_eq!(p[0].version, "1:3.0.7-24.el9");
        assert_eq!(p[0].ecosystem, "Rocky Linux:9");
        assert_eq!(
            p[0].purl,
            "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1"
        );
        assert_eq!(
            (p[0].source_name.as_str(), p[0].source_version.as_str()),
            ("openssl", "1:3.0.7-24.el9")
        );
    }

    #[test]
    fn wal_mode_databases_open() {
        let mut db = rpmdb(&[openssl()]);
        db[18] = 2;
        db[19] = 2;
        assert_eq!(sqlite_headers(&db).unwrap().len(), 1);
    }

    #[test]
    fn hostile_databases_fail_cleanly() {
        assert!(matches!(
            sqlite_headers(b"not a database"),
            Err(RpmDbError::NotSqlite)
        ));
        // Packages as a view that never ends
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i AS hnum, x'00' AS blob FROM n;",
        )
        .unwrap();
        let db = conn.serialize(DatabaseName::Main).unwrap().to_vec();
        assert!(matches!(
            sqlite_headers(&db),
            Err(RpmDbError::NoPackagesTable)
        ));
        // every truncation and a few corruptions of a real database
        let db = rpmdb(&[openssl(), openssl()]);
        for n in (0..db.len()).step_by(97) {
            let _ = sqlite_headers(&db[..n]);
        }
        for at in (100..db.len()).step_by(61) {
            let mut bad = db.clone();
            bad[at] ^= 0x5a;
            let _ = sqlite_headers(&bad);
        }
    }
}
