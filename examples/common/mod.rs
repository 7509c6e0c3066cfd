//! Shared set-up for the examples: a broker to talk to, with no setup.
//!
//! With `STOMP_URL` set (e.g. `stomp://guest:guest@127.0.0.1:61613` for RabbitMQ) the
//! examples use that broker (`STOMP_VHOST` sets the `host` header, default `/`). Otherwise they
//! start stompy's embedded broker in-process on a free port.
#![allow(dead_code)] // each example uses a part

use stompy::broker::{Broker, BrokerHandle};
use stompy::{ClientBuilder, Error, StompClient};

/// Where the examples connect: a URL, and the embedded broker kept alive while it is used.
pub(crate) struct Target {
    url: String,
    vhost: String,
    _broker: Option<BrokerHandle>,
}

impl Target {
    /// `STOMP_URL` if set, else a fresh embedded broker.
    pub(crate) fn from_env() -> Result<Target, Error> {
        let vhost = std::env::var("STOMP_VHOST").unwrap_or_else(|_| "/".into());
        if let Ok(url) = std::env::var("STOMP_URL") {
            println!("using the broker at {url}");
            return Ok(Target {
                url,
                vhost,
                _broker: None,
            });
        }
        let broker = Broker::bind("127.0.0.1:0")?;
        let url = format!("stomp://{}", broker.addr());
        println!("started the embedded broker at {url}");
        Ok(Target {
            url,
            vhost,
            _broker: Some(broker),
        })
    }

    /// A client builder for this broker.
    pub(crate) fn builder(&self) -> Result<ClientBuilder, Error> {
        Ok(StompClient::builder()
            .address(self.url.as_str())?
            .host(self.vhost.as_str()))
    }

    /// A connected client.
    pub(crate) fn connect(&self) -> Result<StompClient, Error> {
        self.builder()?.connect()
    }
}

/// A queue name no earlier run used (real brokers keep durable queues between runs).
pub(crate) fn fresh_queue(name: &str) -> String {
    format!(
        "/queue/stompy-example-{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
