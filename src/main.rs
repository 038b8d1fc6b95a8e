//! The `tradeoff` binary: everything lives in the library; this only hands over the
//! command line and exits with its status.

fn main() {
    std::process::exit(tradeoff::cli::main());
}
