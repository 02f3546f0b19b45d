//! The pieces of an app binary upload that run off the main thread: the SHA-256 of the file
//! (streamed, for dedup and `finaliseUpload`), storing the file from disk, and the exact
//! `finaliseUpload` body. The command runs them in order: hash → dedup → slot → store →
//! finalise.

use super::source::Progress;
use super::{StoreFile, Stored, UploadSlot, store};
use crate::api::ApiClient;
use crate::clock::Timings;
use crate::encoding::Digest;
use crate::exit::CliError;
use serde_json::{Value, json};
use std::io::{self, Read};
use std::path::Path;

/// Read size while hashing: memory stays at one buffer whatever the file size.
const BUF: usize = 256 << 10;

/// Opens the file to upload: a regular file only (`fsio::open_capped`), so a FIFO or a
/// device put in its place is refused instead of blocking the read.
fn open(path: &Path) -> io::Result<(std::fs::File, u64)> {
    crate::fsio::open_capped(path, u64::MAX).map_err(|e| match e {
        crate::fsio::ReadError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    })
}

/// The SHA-256 (hex) of a file, read in fixed-size pieces.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let (mut f, _) = open(path)?;
    let mut h = Digest::sha256();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.hex());
        }
        h.update(&buf[..n]);
    }
}

/// The size of the file to upload.
pub fn file_size(path: &Path) -> Result<u64, CliError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| CliError::new(format!("Cannot read {}: {e}", path.display())))
}

/// Stores the file (Backblaze when the slot offers it, TUS always), streamed from disk.
pub fn store_file(
    api: &ApiClient,
    slot: &UploadSlot,
    path: &Path,
    content_type: &str,
    t: &Timings,
    progress: Progress<'_>,
) -> Result<Stored, CliError> {
    let (mut file, len) =
        open(path).map_err(|e| CliError::new(format!("Cannot read {}: {e}", path.display())))?;
    let mut f = StoreFile {
        src: &mut file,
        len,
        content_type,
        progress,
    };
    store(api, slot, &mut f, t)
}

/// `{backblazeSuccess, bytes, id, metadata, path: <tempPath>, sha, supabaseSuccess}`; `sha`
/// is left out when the file could not be hashed.
pub fn finalise_body(stored: &Stored, sha: Option<&str>, metadata: Value) -> Value {
    let mut body = json!({
        "backblazeSuccess": stored.backblaze_success,
        "bytes": stored.bytes,
        "id": stored.id,
        "metadata": metadata,
        "path": stored.path,
        "sha": sha,
        "supabaseSuccess": stored.supabase_success,
    });
    if sha.is_none()
        && let Some(o) = body.as_object_mut()
    {
        o.remove("sha");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn files_hash_in_pieces_and_the_finalise_body_has_exactly_its_fields() {
        let dir = std::env::temp_dir().join(format!("dcd-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.bin");
        let data: Vec<u8> = (0..(BUF * 2 + 7)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), hex(&Sha256::digest(&data)));
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let stored = Stored {
            id: "bin-1".into(),
            path: "tmp/x".into(),
            bytes: 3,
            backblaze_success: false,
            supabase_success: true,
        };
        let meta = json!({"appId": "com.x", "platform": "android"});
        let b = finalise_body(&stored, Some("ab"), meta.clone());
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "backblazeSuccess",
                "bytes",
                "id",
                "metadata",
                "path",
                "sha",
                "supabaseSuccess"
            ]
        );
        assert_eq!(b["path"], "tmp/x");
        assert!(finalise_body(&stored, None, meta).get("sha").is_none());
    }
}
