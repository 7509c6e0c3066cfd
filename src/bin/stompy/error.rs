//! The CLI's error: a one-line message for `stompy: error: ...`.

use std::fmt;

/// Anything that ends a command with exit code 1.
#[derive(Debug)]
pub(crate) struct CliError(String);

impl CliError {
    /// A mistake in how the tool was used.
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        CliError(msg.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the cause carried (a broker's ERROR body may be a stack trace).
        let one_line = self.0.lines().next().unwrap_or_default();
        f.write_str(one_line)
    }
}

impl From<stompy::Error> for CliError {
    /// The error with its causes: "i/o error: connect to 127.0.0.1:61613: Connection refused".
    fn from(e: stompy::Error) -> Self {
        CliError(e.report().to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(stompy::ErrorChain::new(&e).to_string())
    }
}

impl From<rustyline::error::ReadlineError> for CliError {
    fn from(e: rustyline::error::ReadlineError) -> Self {
        CliError(format!("line editor: {e}"))
    }
}
