//! TLS over the mio stream, with rustls.

/// TLS settings: trusted roots, client certificate, server name checks.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {}
