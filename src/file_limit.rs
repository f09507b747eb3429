//! The open-file limit. A dataset keeps each of its shards open while it is in use (frames are
//! read when asked for), and a run may read several datasets of many shards (online rounds add
//! one per round): the soft limit, 1,024 on most Linux machines, is raised to the hard limit.

/// Raise the soft limit on open files to the hard limit. Does nothing where that fails.
#[allow(unsafe_code)]
pub fn raise() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the one struct passed; called once at
    // start-up.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
