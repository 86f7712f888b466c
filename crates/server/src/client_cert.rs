//! Client-certificate (mTLS) identities. When the server is given a client CA, TLS
//! clients may present a certificate signed by it; the TLS layer has verified it by
//! the time a request arrives, and puts its subject's common name in the request's
//! extensions. That name is a user or a service token; a request with a certificate
//! and no `Authorization` header acts as that identity.

use x509_parser::prelude::{FromDer, X509Certificate};

/// The verified client certificate of a TLS connection, by subject common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub common_name: String,
}

/// Longest common name taken as an identity.
const MAX_NAME: usize = 64;

impl ClientCertificate {
    /// From a DER certificate (already verified by the TLS layer): its subject's
    /// first common name, if it has a usable one.
    pub fn from_der(der: &[u8]) -> Option<ClientCertificate> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
        (!cn.is_empty() && cn.len() <= MAX_NAME).then(|| ClientCertificate {
            common_name: cn.to_owned(),
        })
    }
}
