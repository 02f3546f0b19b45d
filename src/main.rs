//! The `dcd` binary: everything lives in the library so tests can reach it.

fn main() -> std::process::ExitCode {
    dcd::main_entry()
}

/// The static binary allocates with mimalloc: musl's own allocator takes one lock for every
/// allocation and made planning twice as slow (docs/building.md, "The allocator").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The static binary's `memcpy`, `memmove`, `memcmp` and `bcmp` (musl's are slow for small
/// sizes; see `src/mem.rs`). All four are defined, so none of musl's is linked.
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
mod musl_mem {
    /// # Safety
    /// As C's `memcpy`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's promise is `memcpy`'s.
        unsafe { dcd::mem::copy_forward(dst, src, n) };
        dst
    }

    /// # Safety
    /// As C's `memmove`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's promise is `memmove`'s.
        unsafe { dcd::mem::copy_any(dst, src, n) };
        dst
    }

    /// # Safety
    /// As C's `memcmp`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's promise is `memcmp`'s.
        unsafe { dcd::mem::compare(a, b, n) }
    }

    /// # Safety
    /// As C's `bcmp` (zero when equal, as `memcmp`).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's promise is `bcmp`'s.
        unsafe { dcd::mem::compare(a, b, n) }
    }
}
