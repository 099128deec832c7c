//! The one request the sensor makes to the API server: list the pods on
//! this node (`GET /api/v1/pods?fieldSelector=spec.nodeName=NODE`), with
//! the service account's bearer token, over TLS that trusts only the
//! service account's CA.
//!
//! The token and the CA are read again for every listing: the kubelet
//! rotates projected tokens (hourly by default) and a CA can be rotated
//! too, and a listing every few seconds makes the cost of that nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use super::pods::{read_pod_list, PodListing};

/// Largest pod list read. 250 pods with their managed fields come to a
/// few MiB; a response past this is refused rather than read on.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the API server's CA file {path}: {source}")]
    ReadCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the API server's CA file {path} holds no usable PEM certificate: {message}")]
    BadCa { path: PathBuf, message: String },
    #[error("cannot read the service account token {path}: {source}")]
    ReadToken {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the API server answered HTTP {status} to listing pods{hint}")]
    Status { status: u16, hint: &'static str },
    #[error("cannot list pods at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("the pod list from the API server is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the pod list from the API server is not a PodList: {0}")]
    Body(serde_json::Error),
}

impl ClientError {
    /// Whether two failures are the same condition (the same variant and,
    /// for a status, the same code), so a failure is logged once per
    /// change and not once per retry.
    pub fn same_condition(&self, other: &ClientError) -> bool {
        match (self, other) {
            (Self::Status { status: a, .. }, Self::Status { status: b, .. }) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

pub struct ApiClient {
    /// `https://host:port`, no trailing slash.
    pub base_url: String,
    pub node_name: String,
    pub token_file: PathBuf,
    pub ca_file: PathBuf,
    pub max_pods: usize,
    pub timeout: Duration,
}

impl ApiClient {
    pub fn list_pods(&self) -> Result<PodListing, ClientError> {
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls_config(&self.ca_file)?)
            .timeout_connect(self.timeout)
            .timeout(self.timeout)
            .build();
        let token = read_token(&self.token_file)?;
        let url = format!("{}/api/v1/pods", self.base_url);
        let response = agent
            .get(&url)
            .query(
                "fieldSelector",
                &format!("spec.nodeName={}", self.node_name),
            )
            // Served from the API server's watch cache, not etcd: what
            // node agents are asked to do, and fresh to within moments.
            .query("resourceVersion", "0")
            .set("Authorization", &format!("Bearer {token}"))
            .set("Accept", "application/json")
            .call()
            .map_err(|err| match err {
                ureq::Error::Status(status, _) => ClientError::Status {
                    status,
                    hint: status_hint(status),
                },
                ureq::Error::Transport(transport) => ClientError::Transport {
                    url: url.clone(),
                    message: transport.to_string(),
                },
            })?;
        let mut body = LimitedReader {
            inner: response.into_reader(),
            left: MAX_RESPONSE_BYTES,
            exceeded: false,
        };
        match read_pod_list(&mut body, self.max_pods) {
            Ok(listing) => Ok(listing),
            Err(_) if body.exceeded => Err(ClientError::TooLarge),
            Err(err) => Err(ClientError::Body(err)),
        }
    }
}

/// What the operator should do about a refusal.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (the service account token was refused)",
        403 => {
            " (the service account may not list pods: apply the ClusterRole and binding in \
             deploy/kubernetes/rbac.yaml)"
        }
        _ => "",
    }
}

/// A rustls client configuration that trusts the certificates of the CA
/// file and nothing else (no system roots: the API server's certificate
/// is signed by the cluster's own CA).
fn tls_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let pem = std::fs::read(ca_file).map_err(|source| ClientError::ReadCa {
        path: ca_file.to_owned(),
        source,
    })?;
    let bad = |message: String| ClientError::BadCa {
        path: ca_file.to_owned(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| bad(err.to_string()))?;
        roots.add(cert).map_err(|err| bad(err.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no CERTIFICATE block".to_owned()));
    }
    // An explicit provider: no dependence on which crypto backend another
    // part of the process happened to install as the default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| bad(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_token(path: &Path) -> Result<String, ClientError> {
    let token = std::fs::read_to_string(path).map_err(|source| ClientError::ReadToken {
        path: path.to_owned(),
        source,
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(ClientError::ReadToken {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"),
        });
    }
    Ok(token.to_owned())
}

/// Reads at most `left` bytes and remembers whether there was more.
struct LimitedReader<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.exceeded = true;
                return Err(std::io::Error::other("response too large"));
            }
            return Ok(0);
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
