//! Listeners: plain TCP (loopback, or with an explicit `--insecure-http`) and TLS with rustls.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A bound listener, plain or TLS.
pub enum Listener {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS.
    Tls(TlsListener),
}

impl Listener {
    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Plain(l) => l.local_addr(),
            Self::Tls(l) => Ok(l.local),
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("cannot read TLS certificate chain from {0}")]
    Cert(String),
    /// The key file could not be read or holds no private key.
    #[error("cannot read TLS private key from {0}")]
    Key(String),
    /// rustls refused the pair.
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

/// Builds a rustls acceptor from PEM files, with the aws-lc-rs provider.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|_| TlsError::Cert(cert.display().to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Cert(cert.display().to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Cert(cert.display().to_string()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Key(key.display().to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS listener: the bound socket and the acceptor. Handshakes run in each connection's own
/// task under a deadline (`connection::ConnectionLimits::tls_handshake`), so one slow client
/// cannot stall the accept loop.
pub struct TlsListener {
    pub(crate) tcp: TcpListener,
    pub(crate) acceptor: TlsAcceptor,
    local: SocketAddr,
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        Ok(Self {
            tcp,
            acceptor,
            local,
        })
    }
}
