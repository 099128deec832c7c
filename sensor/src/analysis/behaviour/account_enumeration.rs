//! `auth.account_enumeration`: a login or password-reset endpoint whose
//! failure answers differ by username, so an attacker can tell which
//! accounts exist ("no such user" against "wrong password", 404 against
//! 401, "email sent" against "unknown email").
//!
//! Learned from traffic, per endpoint: each username (keyed hash) is
//! remembered with the signature of its answer (`outcome::signature`:
//! status, field names, short messages without digits or ids). A username
//! given two different answers is set aside (an account locked after
//! failures, a message counting attempts down). When two signatures have
//! each been given, consistently, to at least `min_usernames` usernames,
//! the endpoint is reported, once for the sensor's lifetime.

use std::collections::HashMap;

use crate::analysis::detect::{Location, Message, Part, RuleInfo};

use super::config::AccountEnumerationConfig;
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};

#[derive(Debug, Clone, Default)]
pub(crate) struct AnswerTracker {
    /// username hash -> (signature, still consistent)
    users: HashMap<u64, (u64, bool)>,
    /// signature -> consistent usernames given it
    classes: HashMap<u64, u32>,
    reported: bool,
}

impl AnswerTracker {
    /// The answer with `signature` given to the username hashed `user`.
    pub(crate) fn record(
        &mut self,
        user: u64,
        signature: u64,
        reset: bool,
        config: &AccountEnumerationConfig,
    ) -> Option<Enumerable> {
        if !config.enabled || self.reported {
            return None;
        }
        let room = self.users.len() < config.max_usernames;
        match self.users.get_mut(&user) {
            Some((known, consistent)) => {
                if *consistent && *known != signature {
                    *consistent = false;
                    if let Some(n) = self.classes.get_mut(known) {
                        *n -= 1;
                    }
                }
            }
            None if room => {
                self.users.insert(user, (signature, true));
                *self.classes.entry(signature).or_default() += 1;
            }
            None => return None,
        }
        let min = config.min_usernames;
        let mut sizes: Vec<u32> = self
            .classes
            .values()
            .copied()
            .filter(|n| *n >= min)
            .collect();
        if sizes.len() < 2 {
            return None;
        }
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        self.reported = true;
        Some(Enumerable {
            answers: sizes.len(),
            largest: sizes[0],
            second: sizes[1],
            usernames: self.users.len(),
            reset,
        })
    }
}

/// An endpoint that answers failures differently per username.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enumerable {
    /// Distinct answers each given to enough usernames.
    answers: usize,
    largest: u32,
    second: u32,
    usernames: usize,
    reset: bool,
}

impl Condition for Enumerable {
    fn rule(&self) -> &'static RuleInfo {
        &rules::ACCOUNT_ENUMERATION
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT
    }

    fn observed(&self) -> u64 {
        self.answers as u64
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let what = if self.reset {
            "password-reset answers"
        } else {
            "failed-login answers"
        };
        let observed = format!(
            "{} different {what}, each always given to the same usernames ({} and {} usernames, {} seen)",
            self.answers, self.largest, self.second, self.usernames
        );
        Report {
            location: Location {
                message: Message::Response,
                part: Part::Body,
                name: None,
            },
            summary: format!(
                "Account enumeration: {} gives {observed}; expected one answer whatever the username, so nobody can tell which accounts exist.",
                obs.endpoint
            ),
            evidence: format!(
                "{} distinct answers for {} and {} usernames; expected 1",
                self.answers, self.largest, self.second
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_consistent_answers_are_reported_once() {
        let config = AccountEnumerationConfig::default();
        let mut t = AnswerTracker::default();
        // Known users get "wrong password" (1), unknown ones "no such user" (2).
        for user in 0..3 {
            assert!(t.record(user, 1, false, &config).is_none());
        }
        for user in 10..12 {
            assert!(t.record(user, 2, false, &config).is_none());
        }
        let found = t.record(12, 2, false, &config).expect("third unknown user");
        assert_eq!((found.answers, found.largest, found.second), (2, 3, 3));
        assert!(t.record(13, 2, false, &config).is_none(), "once");
    }

    #[test]
    fn one_answer_for_all_or_answers_changing_per_user_are_not() {
        let config = AccountEnumerationConfig::default();
        let mut same = AnswerTracker::default();
        for user in 0..100 {
            assert!(same.record(user, 1, false, &config).is_none());
        }
        // Every user's answer changes after a few tries (locked out): no
        // username is consistent, nothing tells them apart.
        let mut locking = AnswerTracker::default();
        for user in 0..20 {
            for attempt in 0..6 {
                let answer = if attempt < 5 { 1 } else { 2 };
                assert!(locking.record(user, answer, false, &config).is_none());
            }
        }
    }
}
