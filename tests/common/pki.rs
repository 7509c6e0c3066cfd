//! Certificates made in the test with rcgen: a CA of its own, a server certificate for
//! `localhost` / `127.0.0.1` and a client certificate, all signed by it, as PEM.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use stompy::TlsConfig;

/// A test CA with a server and a client certificate.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    /// Server certificate (PEM), valid for `localhost` and `127.0.0.1`.
    pub server_cert: String,
    /// The server certificate's private key (PEM, PKCS#8).
    pub server_key: String,
    /// Client certificate (PEM) for mutual TLS.
    pub client_cert: String,
    /// The client certificate's private key (PEM, PKCS#8).
    pub client_key: String,
}

impl Pki {
    /// A fresh CA (its name unique to this run) and both certificates.
    pub fn new() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("stompy test CA {}", uuid::Uuid::new_v4()),
        );
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let (server_cert, server_key) = leaf(
            &ca,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            &ca,
            &["client.example"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Pki {
            ca,
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    /// The client certificate and key (PEM).
    pub fn client_pem(&self) -> (String, String) {
        (self.client_cert.clone(), self.client_key.clone())
    }

    /// A client configuration trusting this CA.
    pub fn trusting(&self) -> TlsConfig {
        TlsConfig::new().ca_pem(self.ca_pem()).unwrap()
    }

    /// [`Pki::trusting`] with this CA's client certificate.
    pub fn with_client_cert(&self) -> TlsConfig {
        self.trusting()
            .client_cert_pem(&self.client_cert, &self.client_key)
            .unwrap()
    }
}

/// A certificate for `names` signed by `ca`, with its key, as PEM.
fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut params = CertificateParams::new(names).unwrap();
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap().pem();
    (cert, key.serialize_pem())
}
