//! Episodes: one alert when a condition starts, not one per request while
//! it lasts. A condition (rule, endpoint, client) seen again within the
//! quiet period continues its episode; it may raise an update, with a
//! higher count, at most once per update interval. After a quiet period
//! without it, the next occurrence starts a new episode.

use super::bounded::BoundedMap;

/// What to do with a condition that holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// A new episode: alert.
    Start,
    /// An ongoing episode whose count grew and whose last alert is an
    /// update interval old: alert again with the new count.
    Update,
    /// An ongoing episode: stay quiet.
    Suppress,
}

#[derive(Debug, Clone, Copy)]
struct Episode {
    last_seen_ns: i128,
    last_alert_ns: i128,
    last_reported: u64,
}

#[derive(Debug)]
pub(crate) struct Episodes {
    open: BoundedMap<Episode>,
    quiet_ns: i128,
    /// 0: no updates.
    update_ns: i128,
    suppressed: u64,
}

const NS_PER_SEC: i128 = 1_000_000_000;

impl Episodes {
    pub(crate) fn new(cap: usize, quiet_secs: u64, update_secs: u64) -> Self {
        Self {
            open: BoundedMap::new(cap),
            quiet_ns: i128::from(quiet_secs) * NS_PER_SEC,
            update_ns: i128::from(update_secs) * NS_PER_SEC,
            suppressed: 0,
        }
    }

    /// The condition `key` holds at `now_unix_ns` with magnitude `observed`.
    pub(crate) fn admit(&mut self, key: u64, observed: u64, now_unix_ns: i128) -> Admit {
        let fresh = Episode {
            last_seen_ns: now_unix_ns,
            last_alert_ns: now_unix_ns,
            last_reported: observed,
        };
        let mut started = false;
        let episode = self.open.get_or_insert_with(key, || {
            started = true;
            fresh
        });
        if started || now_unix_ns - episode.last_seen_ns >= self.quiet_ns {
            *episode = fresh;
            return Admit::Start;
        }
        episode.last_seen_ns = episode.last_seen_ns.max(now_unix_ns);
        if self.update_ns > 0
            && now_unix_ns - episode.last_alert_ns >= self.update_ns
            && observed > episode.last_reported
        {
            episode.last_alert_ns = now_unix_ns;
            episode.last_reported = observed;
            return Admit::Update;
        }
        self.suppressed += 1;
        Admit::Suppress
    }

    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.open.evictions()
    }

    /// Conditions held back because their episode was ongoing.
    pub(crate) fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = NS_PER_SEC;

    #[test]
    fn start_suppress_update_and_restart_after_quiet() {
        let mut e = Episodes::new(100, 600, 300);
        assert_eq!(e.admit(1, 10, 0), Admit::Start);
        assert_eq!(e.admit(1, 50, 10 * S), Admit::Suppress);
        // An update interval later, with a higher count.
        assert_eq!(e.admit(1, 50, 300 * S), Admit::Update);
        // Still going, but not higher than reported.
        assert_eq!(e.admit(1, 40, 700 * S), Admit::Suppress);
        // Another key is its own episode.
        assert_eq!(e.admit(2, 1, 700 * S), Admit::Start);
        // Quiet for the quiet period: a new episode.
        assert_eq!(e.admit(1, 1, 1400 * S), Admit::Start);
        assert_eq!(e.suppressed(), 2);
    }

    #[test]
    fn no_updates_when_the_interval_is_zero() {
        let mut e = Episodes::new(100, 600, 0);
        assert_eq!(e.admit(1, 1, 0), Admit::Start);
        for i in 1..1000 {
            assert_eq!(e.admit(1, 1 + i as u64, i * S / 2), Admit::Suppress);
        }
    }
}
