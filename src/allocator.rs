//! glibc allocator tuning. candle allocates a fresh buffer for every tensor op; with glibc's
//! default thresholds large buffers are mmapped and unmapped each time, costing millions of page
//! faults and about 30% of a CPU training step (see ../shared/CANDLE_CPU.md). Keeping freed
//! memory in the heap instead removes nearly all of them.

/// Raise glibc's mmap and trim thresholds to 1 GiB. Does nothing elsewhere.
#[allow(unsafe_code)]
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        let big: libc::c_int = 1 << 30;
        // SAFETY: mallopt only adjusts allocator parameters; it is called once at start-up,
        // before any other thread exists.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, big);
            libc::mallopt(M_TRIM_THRESHOLD, big);
        }
    }
}
