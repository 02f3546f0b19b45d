//! TLS trust for every connection dcd makes: one root list, one crypto provider.
//!
//! Corporate networks often inspect TLS with their own CA, so the roots are the system store
//! plus `SSL_CERT_FILE` / `SSL_CERT_DIR` (rustls-native-certs), merged with Mozilla's roots
//! (webpki-root-certs) so an empty container without a CA bundle still works. ureq, the
//! realtime WebSocket and the connectivity diagnosis all trust exactly this list.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

/// The ring crypto provider (ureq is built with `rustls-no-provider`).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide rustls provider. Idempotent.
pub fn install_provider() {
    // Err means a provider is already installed, which is all we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The trusted roots: native (system store, `SSL_CERT_FILE`, `SSL_CERT_DIR`) then Mozilla's,
/// without duplicates. Loaded once.
pub fn root_certs() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            crate::debug!("TLS: could not load some native root certificates: {e}");
        }
        let mut seen = HashSet::new();
        let roots: Vec<_> = native
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
}
