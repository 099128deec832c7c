//! One endpoint's records from several sensors made into one: first seen
//! the earliest, last seen the latest, counts summed, sets united (capped
//! as one sensor caps them, what the cap turns away counted in
//! `dropped_values`).

use std::collections::BTreeSet;

use super::super::record::{EndpointRecord, MAX_CONTENT_TYPES, MAX_PROCESSES, MAX_STATUSES};

/// Adds `other` (another sensor's record of the same endpoint) to `into`.
pub fn merge(into: &mut EndpointRecord, other: &EndpointRecord) {
    into.first_seen_unix_ns = into.first_seen_unix_ns.min(other.first_seen_unix_ns);
    into.last_seen_unix_ns = into.last_seen_unix_ns.max(other.last_seen_unix_ns);
    into.requests = into.requests.saturating_add(other.requests);
    into.tls |= other.tls;
    into.http2 |= other.http2;
    into.grpc |= other.grpc;
    let mut dropped = other.dropped_values;
    for seen in &other.statuses {
        match into
            .statuses
            .binary_search_by_key(&seen.status, |s| s.status)
        {
            Ok(at) => {
                let have = &mut into.statuses[at];
                have.count = have.count.saturating_add(seen.count);
                dropped += unite(
                    &mut have.content_types,
                    &seen.content_types,
                    MAX_CONTENT_TYPES,
                );
            }
            Err(_) if into.statuses.len() >= MAX_STATUSES => dropped += 1,
            Err(at) => into.statuses.insert(at, seen.clone()),
        }
    }
    dropped += unite(
        &mut into.request_content_types,
        &other.request_content_types,
        MAX_CONTENT_TYPES,
    );
    // Credentials and rule maps are small and capped per sensor; the union
    // of a fleet's is bounded by the number of sensors.
    into.credentials.extend(other.credentials.iter().cloned());
    for (rule, category) in &other.request_data {
        into.request_data.entry(rule.clone()).or_insert(*category);
    }
    for (rule, category) in &other.response_data {
        into.response_data.entry(rule.clone()).or_insert(*category);
    }
    for (issue, count) in &other.header_issues {
        let have = into.header_issues.entry(*issue).or_default();
        *have = have.saturating_add(*count);
    }
    dropped += unite(&mut into.served_by, &other.served_by, MAX_PROCESSES);
    dropped += unite(&mut into.called_by, &other.called_by, MAX_PROCESSES);
    into.reported.extend(other.reported.iter().cloned());
    into.dropped_values = into.dropped_values.saturating_add(dropped);
}

/// Adds what fits of `more` to `set`; returns the values turned away.
fn unite<T: Ord + Clone>(set: &mut BTreeSet<T>, more: &BTreeSet<T>, cap: usize) -> u64 {
    let mut dropped = 0;
    for value in more {
        if set.len() < cap || set.contains(value) {
            set.insert(value.clone());
        } else {
            dropped += 1;
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::super::super::record::{ProcessSeen, StatusSeen};
    use super::super::super::security_headers::HeaderIssue;
    use super::*;
    use crate::analysis::detect::Category;

    fn record(first: i64, last: i64, requests: u64, status: u16, comm: &str) -> EndpointRecord {
        let mut record = EndpointRecord::new(first);
        record.last_seen_unix_ns = last;
        record.requests = requests;
        record.statuses.push(StatusSeen {
            status,
            count: requests,
            content_types: ["application/json".to_owned()].into(),
        });
        record.served_by.insert(ProcessSeen {
            comm: comm.into(),
            exe: None,
        });
        record
    }

    #[test]
    fn times_widen_counts_add_and_sets_unite() {
        let mut a = record(100, 200, 3, 200, "api");
        a.response_data
            .insert("pii.email".into(), Category::SensitiveData);
        a.header_issues.insert(HeaderIssue::MissingHsts, 3);
        let mut b = record(50, 150, 2, 500, "api-2");
        b.tls = true;
        b.header_issues.insert(HeaderIssue::MissingHsts, 2);
        b.request_data.insert("secret.aws".into(), Category::Secret);
        merge(&mut a, &b);
        assert_eq!((a.first_seen_unix_ns, a.last_seen_unix_ns), (50, 200));
        assert_eq!(a.requests, 5);
        assert!(a.tls);
        let statuses: Vec<(u16, u64)> = a.statuses.iter().map(|s| (s.status, s.count)).collect();
        assert_eq!(statuses, [(200, 3), (500, 2)]);
        assert_eq!(a.served_by.len(), 2);
        assert_eq!(a.header_issues[&HeaderIssue::MissingHsts], 5);
        assert!(a.response_data.contains_key("pii.email"));
        assert!(a.request_data.contains_key("secret.aws"));
        assert_eq!(a.dropped_values, 0);
    }

    #[test]
    fn full_sets_count_what_they_turn_away() {
        let mut a = record(1, 1, 1, 200, "p0");
        for n in 1..MAX_PROCESSES {
            a.served_by.insert(ProcessSeen {
                comm: format!("p{n}"),
                exe: None,
            });
        }
        let b = record(1, 1, 1, 200, "other");
        merge(&mut a, &b);
        assert_eq!(a.served_by.len(), MAX_PROCESSES);
        assert_eq!(a.dropped_values, 1);
    }
}
