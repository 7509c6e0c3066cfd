//! Transactions: SEND, ACK and NACK frames held until COMMIT, dropped on ABORT or disconnect.

use std::collections::HashMap;
use std::sync::Arc;

use super::queue::Message;

/// No transaction of that name is open.
#[derive(Debug)]
pub(crate) struct NoSuchTx;

/// One operation held in a transaction.
#[derive(Debug)]
pub(crate) enum TxOp {
    /// A message to route on commit.
    Send(Message),
    /// An ACK (or NACK when `nack`) of delivery `ack` on subscription `sub`.
    Ack { sub: Arc<str>, ack: u64, nack: bool },
}

/// A connection's open transactions, by name.
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    open: HashMap<String, Vec<TxOp>>,
}

impl Transactions {
    /// Opens `name`; false when it is already open.
    pub(crate) fn begin(&mut self, name: &str) -> bool {
        if self.open.contains_key(name) {
            return false;
        }
        self.open.insert(name.to_string(), Vec::new());
        true
    }

    /// Holds `op` in `name`; an error (and `op` dropped) when no such transaction is open.
    pub(crate) fn hold(&mut self, name: &str, op: TxOp) -> Result<(), NoSuchTx> {
        match self.open.get_mut(name) {
            Some(ops) => {
                ops.push(op);
                Ok(())
            }
            None => Err(NoSuchTx),
        }
    }

    /// Closes `name` and returns its operations in order (`None`: no such transaction).
    pub(crate) fn end(&mut self, name: &str) -> Option<Vec<TxOp>> {
        self.open.remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(n: u64) -> TxOp {
        TxOp::Ack {
            sub: "s".into(),
            ack: n,
            nack: false,
        }
    }

    #[test]
    fn holds_operations_until_ended() {
        let mut t = Transactions::default();
        assert!(t.begin("t1"));
        assert!(!t.begin("t1"));
        assert!(t.hold("t1", ack(1)).is_ok());
        assert!(t.hold("t2", ack(2)).is_err());
        assert_eq!(t.end("t1").map(|ops| ops.len()), Some(1));
        assert!(t.end("t1").is_none());
    }
}
