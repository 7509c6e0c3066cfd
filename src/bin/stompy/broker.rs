//! `stompy broker`: the embedded broker, in the foreground, with the command line of
//! `stompy-broker`.

use crate::args::BrokerArgs;
use crate::error::CliError;

/// Runs the broker until the process is stopped. Prints the addresses it listens on first.
pub(crate) fn run(args: &BrokerArgs) -> Result<(), CliError> {
    args.run("stompy broker").map_err(CliError::usage)
}
