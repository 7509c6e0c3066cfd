//! The TLS options (--ssl-ca, --ssl-cert, --ssl-key).

use stompy::ClientBuilder;

use crate::args::ConnOpts;
use crate::error::CliError;

/// Applies the TLS file options to `b`. `tls` says whether the address uses TLS.
pub(crate) fn apply(
    opts: &ConnOpts,
    tls: bool,
    b: ClientBuilder,
) -> Result<ClientBuilder, CliError> {
    let files = opts.ssl_ca.is_some() || opts.ssl_cert.is_some() || opts.ssl_key.is_some();
    if !files {
        return Ok(b);
    }
    if !tls {
        return Err(CliError::usage(
            "--ssl-ca, --ssl-cert and --ssl-key need --ssl or a stomp+ssl:// or wss:// URL",
        ));
    }
    Err(CliError::usage(
        "TLS options need a stompy build whose TlsConfig reads CA and certificate files; this one does not",
    ))
}
