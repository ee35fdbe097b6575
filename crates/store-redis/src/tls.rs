//! TLS for `rediss://`.
//!
//! On fred: a rustls client configuration built with an explicit crypto provider
//! (aws-lc-rs, the one the AWS SDK uses), never rustls's process-level default, which
//! panics ("Could not automatically determine the process-level CryptoProvider") in any
//! binary that compiles in two providers, as one holding store-redis and store-dynamodb
//! does.
//!
//! On redis-rs, which builds its rustls configuration itself from the process-level
//! default: the store installs aws-lc-rs as that default when the process has none yet
//! (a provider the application installed first is kept), so the same binary connects
//! instead of panicking.

use std::sync::Arc;

#[cfg(feature = "fred")]
use fred::types::config::{TlsConfig, TlsConnector};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use store_core::{Error, Result};

/// Where a `rediss://` connection's trust comes from.
#[derive(Debug, Clone)]
pub(crate) enum Trust {
    /// The system's certificate store.
    System,
    /// Only the CA certificates of this PEM file (`tls_ca_file`).
    CaFile(String),
    /// The user's own configuration, used as given (fred only).
    #[cfg_attr(not(feature = "fred"), allow(dead_code))]
    Custom(Arc<ClientConfig>),
}

impl Trust {
    /// redis-rs's certificates for this trust (after making sure the process has a
    /// default crypto provider, which redis-rs's rustls configuration needs).
    #[cfg(feature = "redis-rs")]
    pub(crate) fn redis_rs_certificates(&self) -> Result<redis::TlsCertificates> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race to another installer is fine: a default exists either way.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let root_cert = match self {
            Trust::System => None,
            Trust::CaFile(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::Misconfigured(format!(
                        "rediss:// option `tls_ca_file`: cannot read CA certificates from \
                         `{path}`: {e}"
                    ))
                })?;
                // The same checks as on fred: the file must hold a usable certificate.
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::Misconfigured(format!(
                            "rediss:// option `tls_ca_file`: cannot read CA certificates \
                             from `{path}`: {e}"
                        ))
                    })?;
                if certs.is_empty() {
                    return Err(Error::Misconfigured(format!(
                        "rediss:// option `tls_ca_file`: `{path}` holds no PEM certificate"
                    )));
                }
                Some(pem)
            }
            Trust::Custom(_) => {
                return Err(Error::Misconfigured(
                    "a custom rustls ClientConfig (`tls_config`) needs the fred client: \
                     redis-rs builds its own from the URL's trust (`tls_ca_file` or the \
                     system's CA certificates)"
                        .into(),
                ));
            }
        };
        Ok(redis::TlsCertificates {
            client_tls: None,
            root_cert,
        })
    }

    /// The fred TLS configuration for this trust.
    #[cfg(feature = "fred")]
    pub(crate) fn fred_config(&self) -> Result<TlsConfig> {
        let config = match self {
            Trust::Custom(config) => (**config).clone(),
            Trust::System => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() {
                    return Err(Error::Misconfigured(format!(
                        "rediss://: no system CA certificates could be loaded ({:?}); give the \
                         server's CA with the `tls_ca_file` option",
                        found.errors
                    )));
                }
                with_roots(found.certs)?
            }
            Trust::CaFile(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        Error::Misconfigured(format!(
                            "rediss:// option `tls_ca_file`: cannot read CA certificates from \
                             `{path}`: {e}"
                        ))
                    })?;
                if certs.is_empty() {
                    return Err(Error::Misconfigured(format!(
                        "rediss:// option `tls_ca_file`: `{path}` holds no PEM certificate"
                    )));
                }
                with_roots(certs)?
            }
        };
        Ok(TlsConnector::from(config).into())
    }
}

/// A client configuration trusting `roots`, on the aws-lc-rs provider.
#[cfg(feature = "fred")]
fn with_roots(roots: Vec<CertificateDer<'static>>) -> Result<ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    let (_, ignored) = store.add_parsable_certificates(roots);
    if store.is_empty() {
        return Err(Error::Misconfigured(format!(
            "rediss://: none of the CA certificates could be used ({ignored} ignored)"
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Misconfigured(format!("rediss://: TLS configuration: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth())
}
