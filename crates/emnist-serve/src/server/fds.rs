//! File descriptors: the soft limit raised to the hard one at start, and the connection caps
//! fitted under it, so that neither port can starve the other (or the model files, the
//! repository scans and the engines) of descriptors.

use super::conn::LINGERING_REFUSALS;

/// Descriptors kept for everything but connections: listeners, model files, repository scans,
/// the engines' libraries, logs.
pub const RESERVED_FDS: u64 = 64;

/// Raises this process's soft limit on open files to its hard limit and returns the limit now in
/// force (`None` where it cannot be read).
pub fn raise_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// The most connections each of `ports` ports may hold open (`wanted` at most) so that all of
/// them, their lingering refusals and [`RESERVED_FDS`] fit in `limit` descriptors; at least 1.
pub fn connections_per_port(limit: u64, ports: usize, wanted: usize) -> usize {
    let per_port = limit.saturating_sub(RESERVED_FDS) / ports.max(1) as u64;
    let fits = per_port.saturating_sub(LINGERING_REFUSALS as u64).max(1);
    wanted.min(usize::try_from(fits).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_fit_under_the_limit() {
        assert_eq!(connections_per_port(1 << 20, 2, 4096), 4096, "a roomy limit keeps the flag");
        // ulimit -n 300, two ports: (300 - 64) / 2 - 32 = 86 each.
        let cap = connections_per_port(300, 2, 4096);
        assert_eq!(cap, 86);
        assert!(2 * (cap as u64 + LINGERING_REFUSALS as u64) + RESERVED_FDS <= 300);
        assert_eq!(connections_per_port(300, 1, 50), 50);
        assert_eq!(connections_per_port(10, 2, 50), 1, "never zero");
    }

    #[test]
    fn the_limit_is_readable_and_not_lowered() {
        let before = raise_limit().expect("getrlimit works here");
        assert!(raise_limit().unwrap() >= before);
    }
}
