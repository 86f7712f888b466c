//! HTTPS with optional client certificates (mTLS): the rustls server configuration,
//! and an acceptor that hands each connection's verified client certificate to the
//! requests on it.

use crate::connections::{ConnectionLimits, Counted};
use airlock_server::client_cert::ClientCertificate;
use anyhow::Context;
use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use tower_http::add_extension::AddExtension;

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// The server's TLS configuration. With `client_ca`, clients may present a
/// certificate signed by it (and must not present any other); without one, client
/// certificates are not asked for.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> anyhow::Result<RustlsConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certificates(ca)? {
                roots
                    .add(c)
                    .with_context(|| format!("a certificate in {} is unusable", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// TLS acceptor that adds the connection's client certificate (if any) to every
/// request's extensions.
#[derive(Clone)]
pub struct CertAcceptor {
    inner: RustlsAcceptor<DefaultAcceptor>,
    connections: std::sync::Arc<ConnectionLimits>,
}

impl CertAcceptor {
    pub fn new(
        config: RustlsConfig,
        connections: std::sync::Arc<ConnectionLimits>,
    ) -> CertAcceptor {
        CertAcceptor {
            inner: RustlsAcceptor::new(config),
            connections,
        }
    }
}

type TlsStream<I> = tokio_rustls::server::TlsStream<Counted<I>>;

impl<S> Accept<tokio::net::TcpStream, S> for CertAcceptor
where
    S: Send + 'static,
{
    type Stream = TlsStream<tokio::net::TcpStream>;
    type Service = AddExtension<S, Option<ClientCertificate>>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        // At most so many connections per client address, counted before the handshake.
        let slot = stream
            .peer_addr()
            .ok()
            .and_then(|peer| self.connections.admit(peer.ip()));
        let Some(slot) = slot else {
            return Box::pin(async {
                Err(io::Error::other("too many connections from one address"))
            });
        };
        let accepting = self.inner.accept(Counted::new(stream, slot), service);
        Box::pin(async move {
            let (stream, service) = accepting.await?;
            let cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| ClientCertificate::from_der(leaf));
            Ok((stream, AddExtension::new(service, cert)))
        })
    }
}
