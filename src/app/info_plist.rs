//! The bundle id of an iOS app: `CFBundleIdentifier` of the top-level dictionary of its
//! `Info.plist`, which is an XML plist (possibly after a UTF-8 byte-order mark), a binary
//! one (`bplist00…`) or an old-style text one. The `plist` crate's event reader reads all
//! three; no tree is built.
//!
//! Reading is under a budget that holds before anything grows past it: the events read, the
//! bytes of the strings and data in them, and the nesting depth. A binary plist's objects
//! can share references, so a few hundred bytes can stand for billions of events (arrays
//! of the same array of the same array…): the event count ends such a file, whatever it
//! would expand to. Each event's bytes come from the file itself, so one event is never
//! larger than [`MAX_INFO_PLIST`].

use plist::stream::{Event, Reader};
use std::io::Cursor;

/// The most of an `Info.plist` dcd reads (real ones are a few KiB).
pub const MAX_INFO_PLIST: u64 = 4 << 20;

/// Events read from one `Info.plist` (a large real one has a few thousand).
const MAX_EVENTS: u64 = 1_000_000;
/// Bytes of strings and data over all events.
const MAX_CONTENT: u64 = 64 << 20;
/// Deepest nesting of arrays and dictionaries.
const MAX_DEPTH: usize = 256;

/// The events of one plist, counted against the budget.
struct Budgeted<'a> {
    reader: Reader<Cursor<&'a [u8]>>,
    events: u64,
    content: u64,
}

impl Budgeted<'_> {
    /// The next event (`None` at the end), or why reading stops.
    fn next(&mut self) -> Result<Option<Event<'static>>, String> {
        self.events += 1;
        if self.events > MAX_EVENTS {
            return Err(format!("Info.plist holds more than {MAX_EVENTS} values"));
        }
        let event = match self.reader.next() {
            None => return Ok(None),
            Some(e) => e.map_err(|e| format!("Info.plist is not a valid plist: {e}"))?,
        };
        self.content += match &event {
            Event::String(s) => s.len() as u64,
            Event::Data(d) => d.len() as u64,
            _ => 0,
        };
        if self.content > MAX_CONTENT {
            return Err(format!(
                "Info.plist holds more than {} MiB of text and data",
                MAX_CONTENT >> 20
            ));
        }
        Ok(Some(event))
    }

    /// The next event, which must be there.
    fn more(&mut self) -> Result<Event<'static>, String> {
        self.next()?
            .ok_or_else(|| "Info.plist is not a valid plist: it ends too early".to_string())
    }

    /// Reads past the rest of a collection whose start was read at `depth`.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        let mut open = 1usize;
        while open > 0 {
            match self.more()? {
                Event::StartArray(_) | Event::StartDictionary(_) => {
                    open += 1;
                    if depth + open > MAX_DEPTH {
                        return Err("Info.plist nests too deeply".into());
                    }
                }
                Event::EndCollection => open -= 1,
                _ => {}
            }
        }
        Ok(())
    }
}

/// `CFBundleIdentifier` from the bytes of an `Info.plist` (the last one, when a dictionary
/// repeats the key).
pub fn bundle_id(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = Budgeted {
        reader: Reader::new(Cursor::new(bytes)),
        events: 0,
        content: 0,
    };
    match r.more()? {
        Event::StartDictionary(_) => {}
        _ => return Err("Info.plist is not a dictionary".into()),
    }
    let mut id = None;
    loop {
        let key = match r.more()? {
            Event::EndCollection => break,
            Event::String(key) => key,
            _ => return Err("Info.plist is not a valid plist: a key is not a string".into()),
        };
        let value = r.more()?;
        let is_id = key == "CFBundleIdentifier";
        match value {
            Event::String(v) if is_id => id = Some(v.into_owned()),
            Event::StartArray(_) | Event::StartDictionary(_) => {
                r.skip(1)?;
                if is_id {
                    id = None;
                }
            }
            Event::EndCollection => {
                return Err("Info.plist is not a valid plist: a key has no value".into());
            }
            _ if is_id => id = None,
            _ => {}
        }
    }
    if r.next()?.is_some() {
        return Err("Info.plist is not a valid plist: something follows its dictionary".into());
    }
    id.map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "Info.plist has no CFBundleIdentifier".to_string())
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

    /// A binary plist of a few hundred bytes whose top-level dictionary has `id` and then an
    /// array of `width` references to one array of `width` references to … (`levels` deep),
    /// ending in one string: `width^levels` values once the references are expanded.
    pub fn shared_references(id: &str, levels: u8, width: u8) -> Vec<u8> {
        assert!(width < 15 && id.len() < 15 && levels < 200);
        let mut objects: Vec<Vec<u8>> = Vec::new();
        // 0: {1: 2, 3: 4}; 1: "CFBundleIdentifier"; 2: id; 3: "a"; 4..: the arrays.
        objects.push(vec![0xD2, 1, 3, 2, 4]);
        let mut key = vec![0x5F, 0x10, 18];
        key.extend_from_slice(b"CFBundleIdentifier");
        objects.push(key);
        let mut s = vec![0x50 | id.len() as u8];
        s.extend_from_slice(id.as_bytes());
        objects.push(s);
        objects.push(vec![0x51, b'a']);
        for level in 0..levels {
            let child = if level + 1 == levels { 2 } else { 5 + level };
            let mut a = vec![0xA0 | width];
            a.extend(std::iter::repeat_n(child, width as usize));
            objects.push(a);
        }
        let mut out = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in &objects {
            offsets.push(out.len() as u16);
            out.extend_from_slice(o);
        }
        let table = out.len() as u64;
        for o in offsets {
            out.extend_from_slice(&o.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 1]);
        out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&table.to_be_bytes());
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
    fn deep_nesting_is_refused_as_it_is_read() {
        let deep = format!(
            "<plist><dict><key>a</key>{}{}</dict></plist>",
            "<array>".repeat(100_000),
            "</array>".repeat(100_000)
        );
        assert!(bundle_id(deep.as_bytes()).unwrap_err().contains("deeply"));
        // An old-style text plist too (its tree would have been dropped recursively).
        let deep = format!(
            "{{a = {}{};}}",
            "(".repeat(1_000_000),
            ")".repeat(1_000_000)
        );
        assert!(bundle_id(deep.as_bytes()).unwrap_err().contains("deeply"));
        let fine = format!(
            "<plist><dict><key>CFBundleIdentifier</key><string>x.y</string><key>a</key>{}{}</dict></plist>",
            "<array>".repeat(50),
            "</array>".repeat(50)
        );
        assert_eq!(bundle_id(fine.as_bytes()).unwrap(), "x.y");
    }

    #[test]
    fn shared_references_are_refused_by_the_event_budget() {
        let small = samples::shared_references("x.y", 3, 4);
        assert_eq!(bundle_id(&small).unwrap(), "x.y");
        // 14^12 values from a few hundred bytes: the budget ends it.
        let bomb = samples::shared_references("x.y", 12, 14);
        assert!(bomb.len() < 400, "{}", bomb.len());
        assert_eq!(
            bundle_id(&bomb).unwrap_err(),
            format!("Info.plist holds more than {MAX_EVENTS} values")
        );
    }

    #[test]
    fn text_plists_repeated_keys_and_trailing_values() {
        assert_eq!(
            bundle_id(b"{ CFBundleIdentifier = \"dev.dcd.Text\"; x = (1, 2); }").unwrap(),
            "dev.dcd.Text"
        );
        let twice = "<plist><dict><key>CFBundleIdentifier</key><string>a.b</string>\
            <key>CFBundleIdentifier</key><string>c.d</string></dict></plist>";
        assert_eq!(bundle_id(twice.as_bytes()).unwrap(), "c.d");
        let then_array = "<plist><dict><key>CFBundleIdentifier</key><string>a.b</string>\
            <key>CFBundleIdentifier</key><array/></dict></plist>";
        assert!(bundle_id(then_array.as_bytes()).is_err());
        let nested = "<plist><dict><key>x</key><dict><key>CFBundleIdentifier</key>\
            <string>n.o</string></dict></dict></plist>";
        assert!(
            bundle_id(nested.as_bytes())
                .unwrap_err()
                .contains("no CFBundleIdentifier")
        );
        let no_value = "<plist><dict><key>CFBundleIdentifier</key></dict></plist>";
        assert!(bundle_id(no_value.as_bytes()).is_err());
        // Entities a document declares are not expanded (no "billion laughs").
        let entity = "<!DOCTYPE plist [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\
            <plist><dict><key>CFBundleIdentifier</key><string>&b;</string></dict></plist>";
        assert!(bundle_id(entity.as_bytes()).is_err());
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
