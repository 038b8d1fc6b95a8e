//! The `tradeoff` binary: everything lives in the library; this only hands over the
//! command line and exits with its status.

// The server's handlers allocate on many threads at once; mimalloc keeps that fast and
// returns memory promptly, where the system allocator's per-thread arenas grow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(tradeoff::cli::main());
}
