//! The package id of an APK, read from its binary `AndroidManifest.xml` (Android's compiled
//! XML).
//!
//! The format is a sequence of chunks, each starting with `{type: u16, header_size: u16,
//! size: u32}` little-endian. The file is one XML chunk (type `0x0003`) whose body holds a
//! string pool (`0x0001`), usually a resource map (`0x0180`), and then the namespace and
//! element chunks. The package id is the `package` attribute of the first start element,
//! which must be `manifest`.
//!
//! A hostile file can neither panic this reader nor make it allocate: every read is checked
//! against the buffer, chunks advance by their declared size (at least a header, so every
//! step makes progress), names are compared in place without decoding, and only the one
//! value returned is decoded — never longer than the string pool that holds it.

use std::fmt;

const RES_XML: u16 = 0x0003;
const STRING_POOL: u16 = 0x0001;
const START_ELEMENT: u16 = 0x0102;
/// String pool flag: strings are UTF-8 (else UTF-16).
const UTF8_FLAG: u32 = 1 << 8;
/// "No string" in a string reference.
const NO_ENTRY: u32 = 0xFFFF_FFFF;
/// Typed value type: a string reference.
const TYPE_STRING: u8 = 0x03;
/// The smallest attribute record: ns, name, raw value, typed value (8 bytes).
const MIN_ATTRIBUTE: usize = 20;

/// Why no package id was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxmlError {
    /// Not a compiled XML file (a text manifest, or something else).
    NotAxml,
    /// A chunk, table or string runs past the end of the file.
    Truncated,
    /// An element came before any string pool.
    NoStringPool,
    /// The first element is not `manifest`, or there is no element at all.
    NoManifest,
    /// `manifest` has no non-empty string `package` attribute.
    NoPackage,
}

impl fmt::Display for AxmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AxmlError::NotAxml => "AndroidManifest.xml is not binary Android XML",
            AxmlError::Truncated => "AndroidManifest.xml is truncated or damaged",
            AxmlError::NoStringPool => "AndroidManifest.xml has no string pool",
            AxmlError::NoManifest => "AndroidManifest.xml does not start with a <manifest> element",
            AxmlError::NoPackage => "the <manifest> element has no package attribute",
        })
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A chunk: its type, header size, and its bytes (header included).
struct Chunk<'a> {
    kind: u16,
    header: usize,
    bytes: &'a [u8],
}

/// The chunk at `pos` of `b`, if its header and declared size fit.
fn chunk_at(b: &[u8], pos: usize) -> Result<Chunk<'_>, AxmlError> {
    let t = AxmlError::Truncated;
    let kind = u16_at(b, pos).ok_or(t.clone())?;
    let header = u16_at(b, pos + 2).ok_or(t.clone())? as usize;
    let size = u32_at(b, pos + 4).ok_or(t.clone())? as usize;
    if header < 8 || size < header {
        return Err(t);
    }
    let bytes = b
        .get(pos..pos.checked_add(size).ok_or(t.clone())?)
        .ok_or(t)?;
    Ok(Chunk {
        kind,
        header,
        bytes,
    })
}

/// A string pool, read in place.
struct Pool<'a> {
    chunk: &'a [u8],
    offsets_at: usize,
    count: u32,
    strings_at: usize,
    utf8: bool,
}

impl<'a> Pool<'a> {
    fn parse(c: &Chunk<'a>) -> Result<Pool<'a>, AxmlError> {
        let t = AxmlError::Truncated;
        let b = c.bytes;
        let count = u32_at(b, 8).ok_or(t.clone())?;
        let flags = u32_at(b, 16).ok_or(t.clone())?;
        let strings_at = u32_at(b, 20).ok_or(t.clone())? as usize;
        // The offset table must fit the chunk, so `count` cannot exceed what the file holds.
        let table_end = (c.header as u64) + 4 * u64::from(count);
        if table_end > b.len() as u64 {
            return Err(t);
        }
        Ok(Pool {
            chunk: b,
            offsets_at: c.header,
            count,
            strings_at,
            utf8: flags & UTF8_FLAG != 0,
        })
    }

    /// Where string `i`'s encoded bytes start and how many code units / bytes it has:
    /// `(start, len)` with `len` in bytes for UTF-8 and in 16-bit units for UTF-16.
    fn locate(&self, i: u32) -> Option<(usize, usize)> {
        if i >= self.count {
            return None;
        }
        let off = u32_at(self.chunk, self.offsets_at + 4 * i as usize)? as usize;
        let p = self.strings_at.checked_add(off)?;
        let b = self.chunk;
        if self.utf8 {
            // Two lengths, each one byte or two (high bit set): UTF-16 units, then bytes.
            let len8 = |at: usize| -> Option<(usize, usize)> {
                let b0 = *b.get(at)? as usize;
                if b0 & 0x80 != 0 {
                    Some((((b0 & 0x7F) << 8) | *b.get(at + 1)? as usize, 2))
                } else {
                    Some((b0, 1))
                }
            };
            let (_, n1) = len8(p)?;
            let (bytes, n2) = len8(p + n1)?;
            let start = p + n1 + n2;
            b.get(start..start.checked_add(bytes)?)?;
            Some((start, bytes))
        } else {
            // One length, one unit or two (high bit set), in 16-bit units.
            let u0 = u16_at(b, p)? as usize;
            let (units, n) = if u0 & 0x8000 != 0 {
                (((u0 & 0x7FFF) << 16) | u16_at(b, p + 2)? as usize, 4)
            } else {
                (u0, 2)
            };
            let start = p + n;
            b.get(start..start.checked_add(units.checked_mul(2)?)?)?;
            Some((start, units))
        }
    }

    /// Whether string `i` is `s` (ASCII), compared in place.
    fn is(&self, i: u32, s: &str) -> bool {
        let Some((start, len)) = self.locate(i) else {
            return false;
        };
        if len != s.len() {
            return false;
        }
        if self.utf8 {
            &self.chunk[start..start + len] == s.as_bytes()
        } else {
            s.bytes()
                .enumerate()
                .all(|(k, c)| u16_at(self.chunk, start + 2 * k) == Some(u16::from(c)))
        }
    }

    /// String `i`, decoded (invalid sequences replaced).
    fn get(&self, i: u32) -> Option<String> {
        let (start, len) = self.locate(i)?;
        if self.utf8 {
            Some(String::from_utf8_lossy(&self.chunk[start..start + len]).into_owned())
        } else {
            let units = (0..len).map(|k| u16_at(self.chunk, start + 2 * k).unwrap_or(0));
            Some(
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            )
        }
    }
}

/// The `package` attribute of the manifest in the compiled XML `bytes`.
pub fn package_name(bytes: &[u8]) -> Result<String, AxmlError> {
    let file = chunk_at(bytes, 0).map_err(|_| AxmlError::NotAxml)?;
    if file.kind != RES_XML {
        return Err(AxmlError::NotAxml);
    }
    let body = file.bytes;
    let mut pos = file.header;
    let mut pool = None;
    while pos < body.len() {
        let c = chunk_at(body, pos)?;
        match c.kind {
            STRING_POOL if pool.is_none() => pool = Some(Pool::parse(&c)?),
            START_ELEMENT => {
                let pool = pool.as_ref().ok_or(AxmlError::NoStringPool)?;
                return manifest_package(&c, pool);
            }
            _ => {}
        }
        pos += c.bytes.len();
    }
    Err(AxmlError::NoManifest)
}

/// The package of a start element that must be `manifest`. After the node header comes
/// `{ns: u32, name: u32, attribute_start: u16, attribute_size: u16, attribute_count: u16,
/// …}`, and the attributes `{ns, name, raw_value: u32, size: u16, res0: u8, type: u8,
/// data: u32}` from `attribute_start` on, `attribute_size` apart.
fn manifest_package(c: &Chunk<'_>, pool: &Pool<'_>) -> Result<String, AxmlError> {
    let t = AxmlError::Truncated;
    let b = c.bytes;
    let ext = c.header;
    let name = u32_at(b, ext + 4).ok_or(t.clone())?;
    if !pool.is(name, "manifest") {
        return Err(AxmlError::NoManifest);
    }
    let start = u16_at(b, ext + 8).ok_or(t.clone())? as usize;
    let size = u16_at(b, ext + 10).ok_or(t.clone())? as usize;
    let count = u16_at(b, ext + 12).ok_or(t.clone())? as usize;
    if count > 0 && size < MIN_ATTRIBUTE {
        return Err(t);
    }
    for k in 0..count {
        let a = ext + start + k * size;
        let attr_name = u32_at(b, a + 4).ok_or(t.clone())?;
        if !pool.is(attr_name, "package") {
            continue;
        }
        let raw = u32_at(b, a + 8).ok_or(t.clone())?;
        let value = if raw != NO_ENTRY {
            pool.get(raw)
        } else if b.get(a + 15) == Some(&TYPE_STRING) {
            pool.get(u32_at(b, a + 16).ok_or(t.clone())?)
        } else {
            None
        };
        return value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or(AxmlError::NoPackage);
    }
    Err(AxmlError::NoPackage)
}

/// A minimal compiled-XML writer for tests: a string pool, a resource map, a namespace and
/// a `manifest` element with the given attributes — the shape `aapt2` produces.
#[cfg(test)]
pub mod writer {
    /// An attribute: name, and a string value or an integer.
    pub enum Val<'a> {
        Str(&'a str),
        Int(u32),
    }

    fn chunk(kind: u16, header: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&((8 + header.len()) as u16).to_le_bytes());
        v.extend_from_slice(&((8 + header.len() + body.len()) as u32).to_le_bytes());
        v.extend_from_slice(header);
        v.extend_from_slice(body);
        v
    }

    fn pool(strings: &[&str], utf8: bool) -> Vec<u8> {
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for s in strings {
            offsets.extend_from_slice(&(data.len() as u32).to_le_bytes());
            if utf8 {
                let n16 = s.encode_utf16().count();
                for n in [n16, s.len()] {
                    if n > 0x7F {
                        data.extend_from_slice(&[0x80 | (n >> 8) as u8, n as u8]);
                    } else {
                        data.push(n as u8);
                    }
                }
                data.extend_from_slice(s.as_bytes());
                data.push(0);
            } else {
                let units: Vec<u16> = s.encode_utf16().collect();
                if units.len() > 0x7FFF {
                    data.extend_from_slice(&(0x8000 | (units.len() >> 16) as u16).to_le_bytes());
                }
                data.extend_from_slice(&(units.len() as u16).to_le_bytes());
                for u in units {
                    data.extend_from_slice(&u.to_le_bytes());
                }
                data.extend_from_slice(&[0, 0]);
            }
        }
        while data.len() % 4 != 0 {
            data.push(0);
        }
        let mut h = Vec::new();
        h.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&(if utf8 { super::UTF8_FLAG } else { 0 }).to_le_bytes());
        h.extend_from_slice(&((28 + offsets.len()) as u32).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        let mut body = offsets;
        body.extend_from_slice(&data);
        chunk(super::STRING_POOL, &h, &body)
    }

    /// A compiled manifest whose root element is `root` with `attrs`.
    pub fn manifest(root: &str, attrs: &[(&str, Val<'_>)], utf8: bool) -> Vec<u8> {
        let mut strings: Vec<String> = ["versionCode", "android", ANDROID_NS, root]
            .map(String::from)
            .to_vec();
        let mut idx = |s: &str| {
            strings.iter().position(|x| x == s).unwrap_or_else(|| {
                strings.push(s.to_string());
                strings.len() - 1
            }) as u32
        };
        let mut attr_bytes = Vec::new();
        for (name, val) in attrs {
            let n = idx(name);
            let (raw, kind, data) = match val {
                Val::Str(s) => {
                    let i = idx(s);
                    (i, super::TYPE_STRING, i)
                }
                Val::Int(x) => (super::NO_ENTRY, 0x10, *x),
            };
            let ns: u32 = if *name == "versionCode" {
                2
            } else {
                super::NO_ENTRY
            };
            for w in [ns, n, raw] {
                attr_bytes.extend_from_slice(&w.to_le_bytes());
            }
            attr_bytes.extend_from_slice(&8u16.to_le_bytes());
            attr_bytes.extend_from_slice(&[0, kind]);
            attr_bytes.extend_from_slice(&data.to_le_bytes());
        }
        let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
        let mut out = pool(&strings, utf8);
        out.extend(chunk(0x0180, &[], &0x0101_021bu32.to_le_bytes()));
        let ns_node = [1u32, NO_ENTRY_U32, 1, 2];
        out.extend(chunk(
            0x0100,
            &node_header(&ns_node[..2]),
            &words(&ns_node[2..]),
        ));
        let mut ext = words(&[super::NO_ENTRY, 3]);
        ext.extend_from_slice(&20u16.to_le_bytes()); // attribute start
        ext.extend_from_slice(&20u16.to_le_bytes()); // attribute size
        ext.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        ext.extend_from_slice(&[0; 6]); // id, class, style indices
        ext.extend_from_slice(&attr_bytes);
        out.extend(chunk(
            super::START_ELEMENT,
            &node_header(&[1, NO_ENTRY_U32]),
            &ext,
        ));
        chunk(super::RES_XML, &[], &out)
    }

    const ANDROID_NS: &str = "http://schemas.android.com/apk/res/android";
    const NO_ENTRY_U32: u32 = super::NO_ENTRY;

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn node_header(w: &[u32]) -> Vec<u8> {
        words(w)
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{Val, manifest};
    use super::*;

    fn sample(utf8: bool) -> Vec<u8> {
        manifest(
            "manifest",
            &[
                ("versionCode", Val::Int(7)),
                ("package", Val::Str("dev.devicecloud.sample")),
            ],
            utf8,
        )
    }

    #[test]
    fn reads_the_package_from_utf16_and_utf8_pools() {
        assert_eq!(
            package_name(&sample(false)).unwrap(),
            "dev.devicecloud.sample"
        );
        assert_eq!(
            package_name(&sample(true)).unwrap(),
            "dev.devicecloud.sample"
        );
    }

    #[test]
    fn long_and_non_ascii_strings_use_the_two_unit_lengths() {
        let long = format!("com.example.{}", "ä".repeat(200));
        for utf8 in [false, true] {
            let m = manifest("manifest", &[("package", Val::Str(&long))], utf8);
            assert_eq!(package_name(&m).unwrap(), long);
        }
        let huge = "a".repeat(40_000);
        let m = manifest("manifest", &[("package", Val::Str(&huge))], false);
        assert_eq!(package_name(&m).unwrap(), huge);
    }

    #[test]
    fn refuses_what_is_not_a_manifest_with_a_package() {
        let text = b"<?xml version=\"1.0\"?><manifest package=\"x\"/>";
        assert_eq!(package_name(text), Err(AxmlError::NotAxml));
        assert_eq!(package_name(b""), Err(AxmlError::NotAxml));
        let other = manifest("application", &[("package", Val::Str("x.y"))], false);
        assert_eq!(package_name(&other), Err(AxmlError::NoManifest));
        let none = manifest("manifest", &[("versionCode", Val::Int(1))], true);
        assert_eq!(package_name(&none), Err(AxmlError::NoPackage));
        let int = manifest("manifest", &[("package", Val::Int(1))], true);
        assert_eq!(package_name(&int), Err(AxmlError::NoPackage));
        let blank = manifest("manifest", &[("package", Val::Str(" "))], true);
        assert_eq!(package_name(&blank), Err(AxmlError::NoPackage));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        for utf8 in [false, true] {
            let m = sample(utf8);
            for n in 0..m.len() {
                assert!(package_name(&m[..n]).is_err(), "cut at {n}");
            }
        }
    }

    /// A small xorshift, seeded, so a failure is reproducible.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn corrupted_manifests_never_panic() {
        for seed in 0..3000u64 {
            let mut next = rng(seed);
            let mut m = sample(seed % 2 == 0);
            for _ in 0..=(next() % 8) {
                let at = (next() % m.len() as u64) as usize;
                match next() % 3 {
                    0 => m[at] = next() as u8,
                    1 => m[at] = 0xFF,
                    _ => m[at..].iter_mut().take(4).for_each(|b| *b = 0xFF),
                }
            }
            let _ = package_name(&m);
        }
        for seed in 0..2000u64 {
            let mut next = rng(seed);
            let len = (next() % 512) as usize;
            let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if junk.len() >= 8 {
                junk[..2].copy_from_slice(&RES_XML.to_le_bytes());
                junk[2..4].copy_from_slice(&8u16.to_le_bytes());
                let n = junk.len() as u32;
                junk[4..8].copy_from_slice(&n.to_le_bytes());
            }
            let _ = package_name(&junk);
        }
    }

    #[test]
    fn a_pool_claiming_billions_of_strings_is_refused_without_allocating() {
        let mut m = sample(false);
        // The string pool's count sits after the XML header (8) and its own header (8).
        m[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(package_name(&m), Err(AxmlError::Truncated));
    }
}
