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
    with_files(opts, b)
}

#[cfg(feature = "tls")]
fn with_files(opts: &ConnOpts, b: ClientBuilder) -> Result<ClientBuilder, CliError> {
    let mut cfg = stompy::TlsConfig::new();
    if let Some(ca) = &opts.ssl_ca {
        cfg = cfg.ca_file(ca)?;
    }
    match (&opts.ssl_cert, &opts.ssl_key) {
        (Some(cert), Some(key)) => cfg = cfg.client_cert(cert, key)?,
        (None, None) => {}
        _ => return Err(CliError::usage("--ssl-cert and --ssl-key go together")),
    }
    Ok(b.tls(cfg))
}

#[cfg(not(feature = "tls"))]
fn with_files(_: &ConnOpts, _: ClientBuilder) -> Result<ClientBuilder, CliError> {
    Err(CliError::usage(
        "TLS options need stompy built with the tls feature",
    ))
}
