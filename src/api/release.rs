//! The release host (docs/install.md): a version's `SHA256SUMS` and its assets, at
//! `<base>/download/<version>/<file>`. No credentials go there; the downloads have the
//! timeouts and the minimum-progress rule of every other download ([`super::transfer`]).

use super::transfer::Download;
use super::{ApiClient, ClientOptions};
use crate::clock::Timings;
use crate::domain::update;
use std::io::Read;

/// Largest `SHA256SUMS` read: a line per asset.
const MAX_SUMS: u64 = 64 << 10;

/// The files of the releases at one download host.
pub struct Releases {
    client: ApiClient,
    base: String,
}

impl Releases {
    pub fn new(base: &str, timings: Timings) -> Releases {
        Releases {
            client: ApiClient::new(ClientOptions {
                base_url: base.to_string(),
                auth_headers: Vec::new(),
                timings,
            }),
            base: base.to_string(),
        }
    }

    /// `<file>` of `version`, its body not yet read; a non-2xx answer is an error naming the
    /// URL and the status.
    pub fn open(&self, version: &str, file: &str) -> Result<Download, String> {
        let url = update::download_url(&self.base, version, file);
        let shown = crate::debug::redact_url(&url);
        let d = self
            .client
            .open_external("Download", "GET", &url, None)
            .map_err(|e| format!("could not download {shown}: {e}"))?;
        if d.is_success() {
            Ok(d)
        } else {
            Err(format!(
                "could not download {shown}: HTTP {}",
                d.into_status_text()
            ))
        }
    }

    /// The `SHA256SUMS` text of `version` (at most 64 KiB).
    pub fn checksums(&self, version: &str) -> Result<String, String> {
        let mut text = Vec::new();
        self.open(version, "SHA256SUMS")?
            .into_reader()
            .take(MAX_SUMS + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("could not read SHA256SUMS of {version}: {e}"))?;
        if text.len() as u64 > MAX_SUMS {
            return Err(format!("SHA256SUMS of {version} is larger than 64 KiB"));
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
