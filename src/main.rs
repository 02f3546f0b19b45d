//! The `dcd` binary: everything lives in the library so tests can reach it.

fn main() -> std::process::ExitCode {
    dcd::main_entry()
}

/// The static binary allocates with mimalloc: musl's own allocator takes one lock for every
/// allocation and made planning twice as slow (docs/building.md, "The allocator").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
