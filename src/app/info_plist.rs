//! The bundle id of an iOS app: `CFBundleIdentifier` of the top-level dictionary of its
//! `Info.plist`, which is an XML plist (possibly after a UTF-8 byte-order mark) or a binary
//! one (`bplist00…`). The `plist` crate reads both.

/// The most of an `Info.plist` dcd reads (real ones are a few KiB).
pub const MAX_INFO_PLIST: u64 = 4 << 20;

/// Deepest nesting of `<array>`/`<dict>` accepted in an XML plist: the reader descends
/// recursively, so an absurdly deep document must be refused before it is parsed.
const MAX_XML_DEPTH: usize = 256;

/// `CFBundleIdentifier` from the bytes of an `Info.plist`.
pub fn bundle_id(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !bytes.starts_with(b"bplist") && xml_depth(bytes) > MAX_XML_DEPTH {
        return Err("Info.plist nests too deeply".into());
    }
    let value = plist::Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| format!("Info.plist is not a valid plist: {e}"))?;
    let dict = value
        .as_dictionary()
        .ok_or("Info.plist is not a dictionary")?;
    dict.get("CFBundleIdentifier")
        .and_then(plist::Value::as_string)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "Info.plist has no CFBundleIdentifier".to_string())
}

/// The deepest nesting of opening tags over closing ones, counted on the raw text (an
/// upper bound: self-closing and unbalanced tags only make it larger).
fn xml_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        i += off + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') | None => {}
            Some(_) => {
                depth += 1;
                max = max.max(depth);
            }
        }
    }
    max
}

#[cfg(test)]
pub mod samples {
    /// An XML `Info.plist` with `id` (and a nested dictionary that must not be confused
    /// with the top level).
    pub fn xml(id: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleURLTypes</key>
	<array><dict><key>CFBundleIdentifier</key><string>not.this.one</string></dict></array>
	<key>CFBundleIdentifier</key>
	<string>{id}</string>
	<key>CFBundleVersion</key>
	<string>1</string>
</dict>
</plist>
"#
        )
    }

    /// The same, binary, written by the plist crate.
    pub fn binary(id: &str) -> Vec<u8> {
        let mut d = plist::Dictionary::new();
        d.insert("CFBundleName".into(), "Sample".into());
        d.insert("CFBundleIdentifier".into(), id.into());
        d.insert("UIDeviceFamily".into(), vec![plist::Value::from(1)].into());
        let mut out = Vec::new();
        plist::Value::Dictionary(d)
            .to_writer_binary(&mut out)
            .unwrap();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::samples::{binary, xml};
    use super::*;

    #[test]
    fn xml_binary_and_bom_plists_give_the_top_level_bundle_id() {
        assert_eq!(
            bundle_id(xml("dev.dcd.Sample").as_bytes()).unwrap(),
            "dev.dcd.Sample"
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(xml("dev.dcd.Bom").as_bytes());
        assert_eq!(bundle_id(&bom).unwrap(), "dev.dcd.Bom");
        let bin = binary("dev.dcd.Binary");
        assert!(bin.starts_with(b"bplist00"));
        assert_eq!(bundle_id(&bin).unwrap(), "dev.dcd.Binary");
        let escaped = xml("a&amp;b");
        assert_eq!(bundle_id(escaped.as_bytes()).unwrap(), "a&b");
    }

    #[test]
    fn plists_without_an_id_are_errors() {
        let no_id = "<plist><dict><key>X</key><string>y</string></dict></plist>";
        assert!(
            bundle_id(no_id.as_bytes())
                .unwrap_err()
                .contains("no CFBundleIdentifier")
        );
        let not_string =
            "<plist><dict><key>CFBundleIdentifier</key><integer>1</integer></dict></plist>";
        assert!(bundle_id(not_string.as_bytes()).is_err());
        let array = "<plist><array><string>x</string></array></plist>";
        assert!(
            bundle_id(array.as_bytes())
                .unwrap_err()
                .contains("not a dictionary")
        );
        assert!(bundle_id(b"").is_err());
        assert!(bundle_id(b"bplist00").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!(
            "<plist>{}{}</plist>",
            "<array>".repeat(100_000),
            "</array>".repeat(100_000)
        );
        assert!(bundle_id(deep.as_bytes()).unwrap_err().contains("deeply"));
        let fine = format!(
            "<plist><dict><key>CFBundleIdentifier</key><string>x.y</string><key>a</key>{}{}</dict></plist>",
            "<array>".repeat(50),
            "</array>".repeat(50)
        );
        assert_eq!(bundle_id(fine.as_bytes()).unwrap(), "x.y");
    }

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
    fn truncated_and_corrupted_plists_never_panic() {
        for base in [binary("dev.dcd.Binary"), xml("dev.dcd.Xml").into_bytes()] {
            for n in 0..base.len() {
                let _ = bundle_id(&base[..n]);
            }
            for seed in 0..3000u64 {
                let mut next = rng(seed);
                let mut m = base.clone();
                for _ in 0..=(next() % 6) {
                    let at = (next() % m.len() as u64) as usize;
                    m[at] = if next().is_multiple_of(2) {
                        next() as u8
                    } else {
                        0xFF
                    };
                }
                let _ = bundle_id(&m);
            }
        }
    }
}
