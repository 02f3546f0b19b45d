//! Base64, hex and digests: the small encodings dcd needs (TUS metadata, proxy credentials,
//! hash digests; base64 is the `base64` crate ureq already links), random bytes, and the one
//! way it hashes (SHA-256 for dedup, the flow zip and PKCE; SHA-1 for Backblaze), with
//! ring's digests and random source — what TLS already links.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// base64url without padding (RFC 4648 §5), as PKCE uses it.
pub fn base64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `n` bytes from the operating system's random source (ring's, as TLS uses it).
pub fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| std::io::Error::other("the system's random source failed"))?;
    Ok(buf)
}

/// A streaming SHA-256 or SHA-1.
pub struct Digest(ring::digest::Context);

impl Digest {
    pub fn sha256() -> Digest {
        Digest(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// For Backblaze's integrity headers only.
    pub fn sha1() -> Digest {
        Digest(ring::digest::Context::new(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }

    /// The digest in lower-case hex.
    pub fn hex(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    let mut d = Digest::sha256();
    d.update(data);
    d.finish()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a query value or a
/// path segment).
pub fn encode_query_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding_and_the_url_alphabet() {
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(b"f"), "Zg");
        let r = random_bytes(32).unwrap();
        assert_eq!(r.len(), 32);
        assert_ne!(r, random_bytes(32).unwrap());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
