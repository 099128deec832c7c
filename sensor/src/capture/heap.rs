//! Start-up parses large things once (the kernel's BTF, the eBPF object,
//! the host's TLS libraries) and frees them. glibc keeps freed pages in its
//! heap, so they would stay resident for the sensor's life and, worse,
//! add to the ring buffer's pages mapped right after: the start-up peak is
//! the sensor's peak memory.

/// Returns the heap's free pages to the kernel. A no-op with musl (the
/// static build), whose allocator has no trim.
pub fn give_back_freed_memory() {
    // SAFETY: malloc_trim only returns free memory to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}
