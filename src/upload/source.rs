//! What an upload reads from: a seekable stream (a file on disk, or an in-memory cursor for
//! the flow zip), never a whole file in memory. Requests stream their bodies from it, so
//! memory stays constant whatever the size, and a resumed transfer seeks to the offset the
//! server has.

use crate::encoding::Digest;
use std::io::{self, Read, Seek, SeekFrom};

/// A seekable byte source.
pub trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send + ?Sized> Source for T {}

/// Which storage target a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Backblaze,
    Supabase,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Backblaze => "Backblaze",
            Target::Supabase => "Supabase",
        }
    }
}

/// Told `(target, bytes the server has or is receiving, total)` as a transfer goes.
pub type Progress<'a> = &'a (dyn Fn(Target, u64, u64) + Sync);

/// A progress callback that ignores everything.
pub fn no_progress(_: Target, _: u64, _: u64) {}

/// How many bytes go by between two progress reports (the last byte is always reported).
const REPORT_EVERY: u64 = 1 << 20;
/// Read size when hashing.
const HASH_BUF: usize = 256 << 10;

/// The SHA-1 (hex) of `len` bytes from `start`.
pub fn sha1_range(src: &mut dyn Source, start: u64, len: u64) -> io::Result<String> {
    src.seek(SeekFrom::Start(start))?;
    let mut h = Digest::sha1();
    let mut buf = vec![0u8; HASH_BUF];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = src.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while uploading",
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h.hex())
}

/// A request body: `len` bytes of the source from where it is positioned, reporting
/// progress as they are read (`base` = what was sent before this body).
pub struct Body<'a> {
    inner: io::Take<&'a mut dyn Source>,
    target: Target,
    base: u64,
    sent: u64,
    reported: u64,
    total: u64,
    progress: Progress<'a>,
}

impl<'a> Body<'a> {
    /// Seeks to `start` and takes `len` bytes; `total` is the whole transfer's size.
    pub fn new(
        src: &'a mut dyn Source,
        start: u64,
        len: u64,
        total: u64,
        target: Target,
        progress: Progress<'a>,
    ) -> io::Result<Body<'a>> {
        src.seek(SeekFrom::Start(start))?;
        Ok(Body {
            inner: src.take(len),
            target,
            base: start,
            sent: 0,
            reported: 0,
            total,
            progress,
        })
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        let at = self.base + self.sent;
        if self.sent - self.reported >= REPORT_EVERY || (n > 0 && at == self.total) {
            self.reported = self.sent;
            (self.progress)(self.target, at, self.total);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex;
    use sha1::{Digest as _, Sha1};
    use std::io::Cursor;
    use std::sync::Mutex;

    #[test]
    fn ranges_hash_and_bodies_report_their_progress() {
        let data: Vec<u8> = (0..(600u32 << 10)).map(|i| i as u8).collect();
        let mut c = Cursor::new(data.clone());
        assert_eq!(
            sha1_range(&mut c, 0, 3).unwrap(),
            hex(&Sha1::digest(&data[..3]))
        );
        assert_eq!(
            sha1_range(&mut c, 100, 500_000).unwrap(),
            hex(&Sha1::digest(&data[100..500_100]))
        );
        assert!(sha1_range(&mut c, 600_000, 100_000).is_err());
        let seen = Mutex::new(Vec::new());
        let p = |t: Target, s: u64, n: u64| seen.lock().unwrap().push((t, s, n));
        let total = data.len() as u64;
        let mut b = Body::new(&mut c, 1000, total - 1000, total, Target::Supabase, &p).unwrap();
        let mut out = Vec::new();
        b.read_to_end(&mut out).unwrap();
        assert_eq!(out, data[1000..]);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&(Target::Supabase, total, total)));
        assert!(seen.windows(2).all(|w| w[0].1 < w[1].1), "{seen:?}");
    }
}
