//! The live capture clock. bpf_ktime_get_ns is CLOCK_MONOTONIC; exchanges
//! are stamped with Unix time by adding the offset between the two, taken
//! once at start, so deduplication windows close on the capture clock
//! whatever NTP does to the wall clock meanwhile.

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// Now on the capture clock.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC) as u64
}

/// Unix time minus the capture clock.
pub fn unix_minus_monotonic_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC)
}
