//! Keeping the process's resident memory close to what it really uses.
//!
//! glibc's allocator gives every thread that allocates its own arena (up to eight per core) and
//! keeps freed memory in them for reuse. A controller's memory comes in waves: the initial list
//! of every resource, a burst of reconciles, each sweep's pages. Afterwards most of it is free
//! but still resident, spread over arenas. Two arenas are plenty for a handful of runtime
//! threads, and returning free pages after each wave keeps RSS near the live heap.

/// Caps glibc's arenas; call before the runtime starts its threads.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap pages to the operating system. Costs about a millisecond per 100 MiB of
/// heap, so call it after a wave of work, not on every request.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
