//! The flow zip's writer: a plain zip of small files, each deflated, written in memory.
//!
//! One deflate state per thread serves every entry (reset between them): a workspace of
//! thousands of ~150-byte flows paid more for setting up a fresh compressor per file than for
//! the compression itself. Entries are deflated on several threads ([`deflate_all`]), each
//! independently, and written in order, so the bytes do not depend on the threads. The bytes
//! are those the `zip` crate wrote for the same input before (a test pins them): entries as
//! given, version 2.0, the UTF-8 flag only on a non-ASCII name, dated 1980-01-01 00:00, Unix
//! mode 0644, no extra fields, no data descriptors, no comment. The flow zip has no zip64:
//! more than 65,535 entries or 4 GiB is refused.

use flate2::{Compress, Compression, FlushCompress, Status};

/// The deflate level (the `zip` crate's default, so the bytes stay the same).
const LEVEL: u32 = 6;
/// "Made by" Unix (3), zip 2.0; "version needed" 2.0 (deflate).
const MADE_BY: u16 = 3 << 8 | 20;
const NEEDED: u16 = 20;
/// 1980-01-01 in MS-DOS date format; the time is 00:00:00 (0).
const DOS_DATE: u16 = 1 << 5 | 1;
/// A regular file, mode 0644, in the high half of the external attributes.
const UNIX_FILE_0644: u32 = 0o100644 << 16;
/// General purpose flag 11: the name is UTF-8.
const UTF8_NAME: u16 = 1 << 11;

/// One file, deflated: its CRC-32, its size, and the deflate stream.
pub struct Deflated {
    crc: u32,
    size: usize,
    data: Vec<u8>,
}

/// A deflate state, reused for entry after entry.
struct Deflater(Compress);

impl Deflater {
    fn new() -> Deflater {
        Deflater(Compress::new(Compression::new(LEVEL), false))
    }

    /// `data` deflated from a reset state: the same stream a new state would give.
    fn deflate(&mut self, data: &[u8]) -> Result<Deflated, String> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let state = &mut self.0;
        state.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start_in = state.total_in();
        loop {
            let used = (state.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            match state.compress_vec(&data[used..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                Err(e) => return Err(format!("deflate failed: {e}")),
            }
        }
        Ok(Deflated {
            crc: crc.sum(),
            size: data.len(),
            data: out,
        })
    }
}

/// Deflates every file of `files`, in order, on up to `threads` threads (each with its own
/// state); the result does not depend on the number of threads.
pub fn deflate_all<B: AsRef<[u8]> + Sync>(
    files: &[B],
    threads: usize,
) -> Result<Vec<Deflated>, String> {
    let threads = threads.clamp(1, files.len().max(1));
    if threads == 1 {
        let mut d = Deflater::new();
        return files.iter().map(|f| d.deflate(f.as_ref())).collect();
    }
    let chunk = files.len().div_ceil(threads);
    let parts: Vec<Result<Vec<Deflated>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut d = Deflater::new();
                    part.iter().map(|f| d.deflate(f.as_ref())).collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a deflate thread failed".into()))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(files.len());
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// A zip being written into memory.
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: usize,
}

impl ZipWriter {
    pub fn new() -> ZipWriter {
        ZipWriter {
            out: Vec::new(),
            central: Vec::new(),
            entries: 0,
        }
    }

    /// Adds one file, deflated by [`deflate_all`].
    pub fn add(&mut self, name: &str, file: &Deflated) -> Result<(), String> {
        let offset = u32_or(self.out.len(), "4 GiB")?;
        let (size, packed) = (
            u32_or(file.size, "4 GiB")?,
            u32_or(file.data.len(), "4 GiB")?,
        );
        let name_len =
            u16::try_from(name.len()).map_err(|_| format!("the name {name} is too long"))?;
        let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
        // Local file header.
        put32(&mut self.out, 0x0403_4b50);
        for v in [NEEDED, flags, 8, 0, DOS_DATE] {
            put16(&mut self.out, v);
        }
        for v in [file.crc, packed, size] {
            put32(&mut self.out, v);
        }
        put16(&mut self.out, name_len);
        put16(&mut self.out, 0);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&file.data);
        // Its central directory record.
        let c = &mut self.central;
        put32(c, 0x0201_4b50);
        for v in [MADE_BY, NEEDED, flags, 8, 0, DOS_DATE] {
            put16(c, v);
        }
        for v in [file.crc, packed, size] {
            put32(c, v);
        }
        for v in [name_len, 0, 0, 0, 0] {
            put16(c, v);
        }
        put32(c, UNIX_FILE_0644);
        put32(c, offset);
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
        Ok(())
    }

    /// The zip's bytes: the entries, the central directory and its end record.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        let entries = u16::try_from(self.entries).map_err(|_| {
            format!(
                "{} files are more than one zip can hold (65,535)",
                self.entries
            )
        })?;
        let at = u32_or(self.out.len(), "4 GiB")?;
        let size = u32_or(self.central.len(), "4 GiB")?;
        self.out.append(&mut self.central);
        put32(&mut self.out, 0x0605_4b50);
        for v in [0, 0, entries, entries] {
            put16(&mut self.out, v);
        }
        put32(&mut self.out, size);
        put32(&mut self.out, at);
        put16(&mut self.out, 0);
        u32_or(self.out.len(), "4 GiB")?;
        Ok(self.out)
    }
}

/// `n` as a zip's 32-bit field, or the error that the zip would be over `limit`.
fn u32_or(n: usize, limit: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("the flow zip would be larger than {limit}"))
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_with_a_second_implementation_whatever_the_threads() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let files = vec![b"appId: x\n".to_vec(), big.clone(), Vec::new()];
        let names = ["a.yaml", "dir/é.bin", "empty"];
        let zip = |threads| {
            let mut w = ZipWriter::new();
            for (name, d) in names.iter().zip(&deflate_all(&files, threads).unwrap()) {
                w.add(name, d).unwrap();
            }
            w.finish().unwrap()
        };
        let bytes = zip(1);
        assert_eq!(zip(3), bytes, "the threads do not change the bytes");
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 3);
        for (i, (name, want)) in names.iter().zip(&files).enumerate() {
            let mut f = z.by_index(i).unwrap();
            assert_eq!(f.name().unwrap(), *name);
            assert_eq!(f.unix_mode(), Some(0o100644));
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut got).unwrap();
            assert_eq!(&got, want);
        }
    }
}
