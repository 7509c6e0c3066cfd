//! Turns the connection options into a connected [`StompClient`].

use std::time::Duration;

use stompy::{Address, ClientBuilder, ReconnectPolicy, Scheme, StompClient, Version};

use crate::args::ConnOpts;
use crate::error::CliError;

impl ConnOpts {
    /// The wait for the connection, receipts and the disconnect.
    pub(crate) fn wait(&self) -> Duration {
        secs(self.timeout)
    }

    /// The broker addresses: each --url when given, else --host and --port (TLS with --ssl).
    pub(crate) fn addresses(&self) -> Result<Vec<Address>, CliError> {
        let mut list = if self.url.is_empty() {
            vec![Address::tcp(self.host.clone(), self.port)]
        } else {
            self.url
                .iter()
                .map(|u| u.parse::<Address>())
                .collect::<Result<_, _>>()?
        };
        if self.ssl {
            for a in &mut list {
                a.scheme = match a.scheme {
                    Scheme::Ws | Scheme::Wss => Scheme::Wss,
                    _ => Scheme::Tls,
                };
            }
        }
        Ok(list)
    }

    /// A builder with every option applied.
    pub(crate) fn builder(&self) -> Result<ClientBuilder, CliError> {
        let addresses = self.addresses()?;
        let tls = addresses.iter().any(|a| a.scheme.is_tls());
        let attempts = (self.reconnect_attempts > 0).then_some(self.reconnect_attempts);
        let policy = ReconnectPolicy::default().attempts(attempts);
        let mut b = StompClient::builder()
            .addresses(addresses)?
            .reconnect_policy(policy)
            .auto_reconnect(self.auto_reconnect)
            .connect_timeout(self.wait())
            .connected_timeout(self.wait())
            .disconnect_timeout(self.wait());
        if let Some(user) = &self.user {
            b = b.login(user.clone(), self.password.clone().unwrap_or_default());
        } else if self.password.is_some() {
            return Err(CliError::usage("--password needs --user"));
        }
        if let Some(vhost) = &self.vhost {
            b = b.host(vhost.clone());
        }
        if let Some(v) = &self.protocol_version {
            let v: Version = v.parse().map_err(stompy::Error::from)?;
            b = b.versions([v]);
        }
        if let Some(hb) = self.heartbeats {
            b = b.heart_beat(
                Duration::from_millis(hb.send_ms),
                Duration::from_millis(hb.recv_ms),
            );
        }
        crate::tls::apply(self, tls, b)
    }

    /// Connects.
    pub(crate) fn connect(&self) -> Result<StompClient, CliError> {
        Ok(self.builder()?.connect()?)
    }
}

/// Seconds (possibly fractional) as a duration; negative or NaN counts as zero.
pub(crate) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}
