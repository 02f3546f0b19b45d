//! The flow zip's writer: a plain zip of small files, each deflated, written in memory.
//!
//! One deflate state serves every entry (reset between them): a workspace of thousands of
//! ~150-byte flows paid more for setting up a fresh compressor per file than for the
//! compression itself. The bytes are those the `zip` crate wrote for the same input before
//! (a test pins them): entries as given, version 2.0, the UTF-8 flag only on a non-ASCII
//! name, dated 1980-01-01 00:00, Unix mode 0644, no extra fields, no data descriptors, no
//! comment. The flow zip has no zip64: more than 65,535 entries or 4 GiB is refused.

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

/// A zip being written into memory.
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: usize,
    deflate: Compress,
    scratch: Vec<u8>,
}

impl ZipWriter {
    pub fn new() -> ZipWriter {
        ZipWriter {
            out: Vec::new(),
            central: Vec::new(),
            entries: 0,
            deflate: Compress::new(Compression::new(LEVEL), false),
            scratch: Vec::new(),
        }
    }

    /// Adds one file, deflated.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<(), String> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        self.deflate_into_scratch(data)?;
        let offset = u32_or(self.out.len(), "4 GiB")?;
        let (size, packed) = (
            u32_or(data.len(), "4 GiB")?,
            u32_or(self.scratch.len(), "4 GiB")?,
        );
        let name_len =
            u16::try_from(name.len()).map_err(|_| format!("the name {name} is too long"))?;
        let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
        // Local file header.
        put32(&mut self.out, 0x0403_4b50);
        for v in [NEEDED, flags, 8, 0, DOS_DATE] {
            put16(&mut self.out, v);
        }
        for v in [crc.sum(), packed, size] {
            put32(&mut self.out, v);
        }
        put16(&mut self.out, name_len);
        put16(&mut self.out, 0);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&self.scratch);
        // Its central directory record.
        let c = &mut self.central;
        put32(c, 0x0201_4b50);
        for v in [MADE_BY, NEEDED, flags, 8, 0, DOS_DATE] {
            put16(c, v);
        }
        for v in [crc.sum(), packed, size] {
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

    /// Deflates `data` into `scratch` with the shared state, reset first.
    fn deflate_into_scratch(&mut self, data: &[u8]) -> Result<(), String> {
        self.deflate.reset();
        self.scratch.clear();
        self.scratch.reserve(data.len() / 2 + 64);
        let start_in = self.deflate.total_in();
        loop {
            let used = (self.deflate.total_in() - start_in) as usize;
            if self.scratch.capacity() - self.scratch.len() < 64 {
                self.scratch.reserve(self.scratch.capacity().max(64));
            }
            match self
                .deflate
                .compress_vec(&data[used..], &mut self.scratch, FlushCompress::Finish)
            {
                Ok(Status::StreamEnd) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(format!("deflate failed: {e}")),
            }
        }
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
    fn entries_read_back_with_a_second_implementation() {
        let mut w = ZipWriter::new();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        w.add("a.yaml", b"appId: x\n").unwrap();
        w.add("dir/é.bin", &big).unwrap();
        w.add("empty", b"").unwrap();
        let bytes = w.finish().unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 3);
        for (i, (name, want)) in [
            ("a.yaml", &b"appId: x\n"[..]),
            ("dir/é.bin", &big[..]),
            ("empty", &b""[..]),
        ]
        .into_iter()
        .enumerate()
        {
            let mut f = z.by_index(i).unwrap();
            assert_eq!(f.name().unwrap(), name);
            assert_eq!(f.unix_mode(), Some(0o100644));
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut got).unwrap();
            assert_eq!(got, want);
        }
    }
}
