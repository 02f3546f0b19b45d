//! TLS trust for every connection dcd makes: one root list, one crypto provider.
//!
//! Corporate networks often inspect TLS with their own CA, so the roots are the system store,
//! plus the certificates of `SSL_CERT_FILE` and of the files in `SSL_CERT_DIR` (added to it,
//! never replacing it), plus Mozilla's roots (webpki-root-certs) so an empty container without
//! a CA bundle still works. ureq, the realtime WebSocket and the connectivity diagnosis all
//! trust exactly this list.
//!
//! Every CA file is read through [`crate::fsio::read_capped`]: only regular files, at most
//! 16 MiB each and 64 MiB in all, so `SSL_CERT_FILE=/dev/zero`, a FIFO or a huge file is
//! skipped at once. The list is built once, when the first HTTP agent or TLS connection
//! needs it. [`env_warnings`] checks the two
//! variables without reading any certificate, for the command to warn about a path that
//! cannot be used.

use crate::fsio::{self, ReadError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Largest CA file read.
const MAX_CA_FILE: u64 = 16 << 20;
/// Most bytes read from CA files in all.
const MAX_CA_TOTAL: u64 = 64 << 20;
/// Most entries looked at in one certificate directory.
const MAX_DIR_ENTRIES: usize = 10_000;

/// The system CA bundle: the first of these that exists.
const SYSTEM_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
    "/opt/etc/ssl/certs/ca-certificates.crt",
];

/// The system certificate directories, each read when it exists.
const SYSTEM_DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// The crypto provider (ureq is built with `rustls-no-provider`): rustls's own ring provider
/// with the cipher suites narrowed to AES-GCM, TLS 1.3 and 1.2. Every server and
/// TLS-inspecting proxy offers AES-GCM, and every x86_64 and ARMv8 CPU runs it in hardware.
/// Key exchange (X25519, P-256, P-384), the signatures a server may use (ECDSA, Ed25519, RSA)
/// and the random source are the provider's own. dcd never presents a client certificate, so
/// it loads no private key ([`NoClientKeys`]; ring's signing code stays out of the binary).
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            use rustls::crypto::ring::{cipher_suite as cs, default_provider};
            Arc::new(CryptoProvider {
                cipher_suites: vec![
                    cs::TLS13_AES_256_GCM_SHA384,
                    cs::TLS13_AES_128_GCM_SHA256,
                    cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                    cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                    cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                    cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                ],
                key_provider: &NoClientKeys,
                ..default_provider()
            })
        })
        .clone()
}

/// A key provider that loads no key: dcd authenticates with tokens, never a certificate.
#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

/// Installs dcd's provider as the process-wide rustls provider. Idempotent.
pub fn install_provider() {
    // Err means a provider is already installed, which is all we want.
    let _ = CryptoProvider::clone(&provider()).install_default();
}

/// `SSL_CERT_FILE`, when set and non-empty.
fn env_file() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The directories of `SSL_CERT_DIR` (a `:`-separated list, empty entries ignored).
fn env_dirs() -> Vec<PathBuf> {
    std::env::var_os("SSL_CERT_DIR")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Why a path cannot be used, in a few words.
fn reason(e: &ReadError) -> String {
    match e {
        ReadError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "it does not exist".into()
        }
        ReadError::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            "it cannot be read: permission denied".into()
        }
        ReadError::Io(io) => format!("it cannot be read: {io}"),
        other => format!("it is {other}"),
    }
}

/// One walk over CA files: with `read`, their certificates are collected; without, the files
/// are only opened and checked. Problems are collected as messages either way.
struct Scan {
    read: bool,
    /// `(device, inode)` of every file visited: a bundle linked from a directory, or the
    /// hash-named links of `openssl rehash`, are read once.
    seen: HashSet<crate::platform::FileId>,
    budget: u64,
    certs: Vec<CertificateDer<'static>>,
    problems: Vec<String>,
}

impl Scan {
    fn new(read: bool) -> Scan {
        Scan {
            read,
            seen: HashSet::new(),
            budget: MAX_CA_TOTAL,
            certs: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// A file of PEM certificates; `label` names it in a problem (`SSL_CERT_FILE=/x`).
    fn file(&mut self, path: &Path, label: &str) {
        if let Ok(m) = std::fs::metadata(path)
            && m.is_file()
            && !self.seen.insert(crate::platform::file_id(&m, path))
        {
            return;
        }
        let cap = MAX_CA_FILE.min(self.budget);
        let result = if self.read {
            fsio::read_capped(path, cap).map(Some)
        } else {
            fsio::open_capped(path, cap).map(|_| None)
        };
        match result {
            Ok(Some(bytes)) => {
                self.budget -= bytes.len() as u64;
                let before = self.certs.len();
                self.certs.extend(
                    CertificateDer::pem_slice_iter(&bytes)
                        .filter_map(Result::ok)
                        .map(CertificateDer::into_owned),
                );
                if self.certs.len() == before {
                    self.problems
                        .push(format!("{label}: no PEM certificate in {}", path.display()));
                }
            }
            Ok(None) => {}
            Err(e) => self.problems.push(format!("{label}: {}", reason(&e))),
        }
    }

    /// Every regular file of a directory (not recursive; dangling links and subdirectories
    /// are passed over, anything else that is not a regular file is a problem).
    fn dir(&mut self, dir: &Path, label: &str) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                let why = match std::fs::metadata(dir) {
                    Ok(m) if !m.is_dir() => "it is not a directory".to_string(),
                    _ => reason(&ReadError::Io(e)),
                };
                self.problems.push(format!("{label}: {why}"));
                return;
            }
        };
        if !self.read {
            // A check (for warnings) stops at the directory: opening each of its files
            // would cost a command against a plain-HTTP API hundreds of system calls.
            return;
        }
        for entry in entries.flatten().take(MAX_DIR_ENTRIES) {
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => self.file(&path, &format!("{label}: {}", path.display())),
                Err(_) => {}
            }
        }
    }
}

/// Warnings about `SSL_CERT_FILE` and `SSL_CERT_DIR` paths that cannot be used (missing,
/// unreadable, not a regular file or directory, too large), each naming the variable and the
/// path. Opens the file and lists the directories without reading any certificate; a bad
/// file inside a directory is skipped (and logged with `--debug`) when the store is loaded.
pub fn env_warnings() -> Vec<String> {
    let mut scan = Scan::new(false);
    if let Some(f) = env_file() {
        scan.file(&f, &format!("SSL_CERT_FILE={}", f.display()));
    }
    for d in env_dirs() {
        scan.dir(&d, &format!("SSL_CERT_DIR entry {}", d.display()));
    }
    scan.problems
        .into_iter()
        .map(|p| format!("{p}; ignored (the system store and Mozilla's roots are still trusted)"))
        .collect()
}

/// The system store, read the same bounded way as the environment's files: the first of the
/// known bundle files (`/etc/ssl/cert.pem` is macOS's, kept current by the system from its
/// keychain's roots) and the known directories. On Windows the certificate store is asked
/// ([`crate::platform::system_roots`]): there a TLS-inspecting proxy's root is installed.
fn system_store(scan: &mut Scan) {
    scan.certs.extend(crate::platform::system_roots());
    if let Some(f) = SYSTEM_FILES.iter().map(Path::new).find(|p| p.exists()) {
        scan.file(f, "system store");
    }
    for d in SYSTEM_DIRS.iter().map(Path::new).filter(|p| p.is_dir()) {
        scan.dir(d, "system store");
    }
}

/// The trusted roots: the system store, then `SSL_CERT_FILE` and `SSL_CERT_DIR`, then
/// Mozilla's, without duplicates. Loaded once, on first use.
pub fn root_certs() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut scan = Scan::new(true);
        system_store(&mut scan);
        let system = scan.certs.len();
        if let Some(f) = env_file() {
            scan.file(&f, "SSL_CERT_FILE");
        }
        for d in env_dirs() {
            scan.dir(&d, "SSL_CERT_DIR");
        }
        for p in &scan.problems {
            crate::debug!("TLS: {p}");
        }
        crate::debug!(
            "TLS: {system} certificates from the system store, {} from SSL_CERT_FILE / SSL_CERT_DIR",
            scan.certs.len() - system
        );
        let mut seen = HashSet::new();
        let roots: Vec<_> = scan
            .certs
            .into_iter()
            .chain(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned())
            .filter(|c| seen.insert(c.as_ref().to_vec()))
            .collect();
        crate::debug!("TLS: {} trusted root certificates", roots.len());
        roots
    })
}

/// A rustls client config over [`root_certs`], for connections ureq does not make
/// (the realtime WebSocket, the TLS step of the diagnosis). Built once.
pub fn rustls_client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            let (_, ignored) = store.add_parsable_certificates(root_certs().iter().cloned());
            if ignored > 0 {
                crate::debug!("TLS: ignored {ignored} unparsable root certificates");
            }
            let config = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(store)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// The ureq TLS config: rustls with ring, trusting exactly [`root_certs`].
pub fn ureq_tls_config() -> ureq::tls::TlsConfig {
    let certs: Vec<ureq::tls::Certificate<'static>> = root_certs()
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()))
        .collect();
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .unversioned_rustls_crypto_provider(provider())
        .build()
}

/// A TLS config that trusts nothing, for agents that only speak plain HTTP: building it
/// reads no certificate store. An `https://` URL given to such an agent fails its handshake.
pub fn ureq_tls_config_without_roots() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[]))
        .unversioned_rustls_crypto_provider(provider())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_include_mozilla_and_configs_build() {
        install_provider();
        install_provider();
        assert!(root_certs().len() >= webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        let a = rustls_client_config();
        assert!(Arc::ptr_eq(&a, &rustls_client_config()));
        assert!(matches!(
            ureq_tls_config().root_certs(),
            ureq::tls::RootCerts::Specific(c) if c.len() == root_certs().len()
        ));
    }

    #[cfg(unix)]
    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dcd-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    const PEM: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUAQ==\n-----END CERTIFICATE-----\n";

    #[cfg(unix)]
    #[test]
    fn ca_files_are_bounded_regular_files_read_once() {
        let d = tmp("scan");
        let bundle = d.join("bundle.pem");
        std::fs::write(&bundle, PEM.repeat(2)).unwrap();
        std::os::unix::fs::symlink(&bundle, d.join("abcd1234.0")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::File::create(d.join("huge.pem"))
            .unwrap()
            .set_len(MAX_CA_FILE + 1)
            .unwrap();
        let fifo = std::ffi::CString::new(d.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a path in our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);

        let mut scan = Scan::new(true);
        scan.file(&bundle, "SSL_CERT_FILE");
        scan.dir(&d, "SSL_CERT_DIR");
        assert_eq!(scan.certs.len(), 2, "the bundle once, through both paths");
        let mut problems = scan.problems.clone();
        problems.sort();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].ends_with("fifo: it is not a regular file"),
            "{problems:?}"
        );
        assert!(
            problems[1].ends_with("huge.pem: it is larger than 16 MiB"),
            "{problems:?}"
        );

        let mut check = Scan::new(false);
        check.file(&d.join("missing.pem"), "SSL_CERT_FILE=missing.pem");
        check.file(&d.join("fifo"), "SSL_CERT_FILE=fifo");
        check.dir(&bundle, "SSL_CERT_DIR entry bundle.pem");
        assert_eq!(
            check.problems,
            [
                "SSL_CERT_FILE=missing.pem: it does not exist",
                "SSL_CERT_FILE=fifo: it is not a regular file",
                "SSL_CERT_DIR entry bundle.pem: it is not a directory",
            ]
        );
        assert!(check.certs.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
