//! TLS client settings of a remote sink: which CA to trust (`ca_file`,
//! or else the Mozilla roots), and the client certificate and key a
//! receiver that wants mutual TLS checks (`client_cert_file`,
//! `client_key_file`). Read once at start-up, so a bad file is a config
//! error naming its key, not a failed delivery later.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Which files the sink's TLS uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    pub ca_file: Option<&'a Path>,
    pub client_cert_file: Option<&'a Path>,
    pub client_key_file: Option<&'a Path>,
}

/// A rustls client configuration, or the key that is wrong and why.
pub fn client_config(
    files: TlsFiles<'_>,
) -> Result<Arc<rustls::ClientConfig>, (&'static str, String)> {
    let mut roots = rustls::RootCertStore::empty();
    match files.ca_file {
        Some(path) => {
            let pem = read(path).map_err(|m| ("ca_file", m))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| ("ca_file", format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| ("ca_file", format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err((
                    "ca_file",
                    format!("{}: no CERTIFICATE block", path.display()),
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ("ca_file", e.to_string()))?
        .with_root_certificates(roots);
    let config = match (files.client_cert_file, files.client_key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let pem = read(cert).map_err(|m| ("client_cert_file", m))?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ("client_cert_file", format!("{}: {e}", cert.display())))?;
            if chain.is_empty() {
                return Err((
                    "client_cert_file",
                    format!("{}: no CERTIFICATE block", cert.display()),
                ));
            }
            let pem = read(key).map_err(|m| ("client_key_file", m))?;
            let key_der = PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|e| ("client_key_file", format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| ("client_key_file", e.to_string()))?
        }
        (Some(_), None) => {
            return Err((
                "client_key_file",
                "client_cert_file needs a client_key_file".into(),
            ))
        }
        (None, Some(_)) => {
            return Err((
                "client_cert_file",
                "client_key_file needs a client_cert_file".into(),
            ))
        }
    };
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
