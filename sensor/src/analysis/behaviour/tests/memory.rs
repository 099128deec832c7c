//! Memory stays bounded whatever the traffic, and evictions are counted.

use super::*;

#[test]
fn a_million_distinct_clients_stay_within_the_caps() {
    let config = BehaviourConfig {
        max_clients: 10_000,
        max_id_trackers: 5_000,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    const CLIENTS: u32 = 1_000_000;
    // One request each, 10,000 a second, each to its own id.
    let mut x = get("/users/1", "10.0.0.1");
    let mut findings = 0usize;
    for i in 0..CLIENTS {
        x.request.target = format!("/users/{i}").into();
        let mut conn = (*x.connection).clone();
        conn.remote = Some(std::net::SocketAddr::from((i.to_be_bytes(), 50000)));
        x.connection = Arc::new(conn);
        findings += d.observe(&x, &[], T0 + i128::from(i) * NS / 10_000).len();
        if i % 100_000 == 0 {
            let c = d.counters();
            assert!(
                c.clients_tracked <= 10_000 && c.id_trackers <= 5_000,
                "{c:?}"
            );
        }
    }
    let c = d.counters();
    assert_eq!(c.exchanges, u64::from(CLIENTS));
    assert!(c.clients_tracked <= 10_000, "{c:?}");
    assert!(c.id_trackers <= 5_000, "{c:?}");
    assert_eq!(c.endpoints_tracked, 1);
    assert_eq!(
        c.clients_tracked as u64 + c.client_evictions,
        u64::from(CLIENTS)
    );
    assert_eq!(
        c.id_trackers as u64 + c.id_tracker_evictions,
        u64::from(CLIENTS)
    );
    // The endpoint's rate went from nothing to 600,000 a minute inside
    // its warm-up: no baseline to call it a spike. Nothing else fires.
    assert_eq!(findings, 0);
}

#[test]
fn distinct_endpoints_stay_within_their_cap() {
    let config = BehaviourConfig {
        max_endpoints: 1_000,
        max_episodes: 100,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    // Paths whose segments are words (not identifiers): each is its own
    // endpoint, and each carries a credential in its query, so each opens
    // an episode too.
    for i in 0..50_000u64 {
        let word: String = (0..4)
            .map(|k| (b'a' + ((i / 26u64.pow(k)) % 26) as u8) as char)
            .collect();
        let target = format!("/pages/{word}?api_key=k_{word}_secret");
        let findings = d.observe(
            &get(&target, "10.0.0.7"),
            &[],
            T0 + i128::from(i) * NS / 100,
        );
        assert_eq!(findings.len(), 1, "{target}");
    }
    let c = d.counters();
    assert!(c.endpoints_tracked <= 1_000, "{c:?}");
    assert_eq!(c.endpoints_tracked as u64 + c.endpoint_evictions, 50_000);
    assert!(c.episodes_open <= 100, "{c:?}");
    assert_eq!(c.episodes_open as u64 + c.episode_evictions, 50_000);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["endpoint_evictions"], c.endpoint_evictions);
}

/// What one tracked thing costs, so the caps translate into megabytes.
/// Worst case with the defaults: every map full (two generations of
/// hashbrown tables, each at its power-of-two capacity), every client
/// holding a full set of username hashes and every id tracker a sketch.
#[test]
fn per_entry_sizes_keep_the_default_caps_within_budget() {
    use std::mem::size_of;
    /// Bytes of a `BoundedMap` of `cap` entries of `entry` bytes: two
    /// tables of `cap / 2` at load factor 7/8, key and control byte each.
    fn map_bytes(cap: usize, entry: usize) -> usize {
        2 * (cap / 2 * 8 / 7).next_power_of_two() * (8 + entry + 1)
    }
    let endpoint = size_of::<EndpointState>();
    let client = size_of::<ClientState>();
    let tracker = size_of::<IdTracker>();
    println!("endpoint {endpoint} B, client {client} B, id tracker {tracker} B");
    assert!(endpoint <= 320 && client <= 320 && tracker <= 160);
    let c = BehaviourConfig::default();
    let usernames = 2 * c.brute_force.stuffing_usernames as usize * 8;
    let sketch = 1024 + 16;
    let episode = 64;
    let worst = map_bytes(c.max_endpoints, endpoint)
        + map_bytes(c.max_clients, client)
        + c.max_clients * usernames
        + map_bytes(c.max_id_trackers, tracker)
        + c.max_id_trackers * sketch
        + map_bytes(c.max_episodes, episode);
    println!("worst case with the default caps: {} MiB", worst >> 20);
    assert!(worst < 64 << 20, "{worst} bytes");
}

/// The same for what knows who is calling: accounts under failed logins,
/// credential endpoints' answers, and `auth.bola`'s returned ids (Bloom
/// filters), owners and windows. Map tables hold each entry inline; what
/// an entry points to (vectors, tables, the filter) is counted once per
/// entry, at its largest.
#[test]
fn identity_state_stays_within_its_budget_at_the_default_caps() {
    use std::mem::size_of;
    fn map_bytes(cap: usize, entry: usize) -> usize {
        2 * (cap / 2 * 8 / 7).next_power_of_two() * (8 + entry + 1)
    }
    let c = BehaviourConfig::default();
    let accounts = map_bytes(
        c.brute_force.max_accounts,
        size_of::<account_brute_force::AccountTracker>(),
    ) + c.brute_force.max_accounts * 32 * 8;
    let users = c.account_enumeration.max_usernames;
    let answers = map_bytes(
        MAX_CREDENTIAL_ENDPOINTS,
        size_of::<account_enumeration::AnswerTracker>(),
    ) + MAX_CREDENTIAL_ENDPOINTS
        * ((users * 8 / 7).next_power_of_two() * (8 + 16 + 1) + 64 * (8 + 4 + 1));
    let principals = c.bola.max_principals;
    let returned = map_bytes(principals, size_of::<bola::Returned>()) + principals * 256 * 8;
    let owners = map_bytes(c.bola.max_owned_ids, 8);
    let cap = |n: u32| (n as usize * 2).max(8) * 8;
    let window_heap = 2 * cap(c.bola.min_unreturned_ids) + cap(c.bola.min_foreign_ids) + 16 * 8;
    let windows = map_bytes(principals, size_of::<bola::Window>()) + principals * window_heap;
    let worst = accounts + answers + returned + owners + windows;
    println!(
        "identity worst case with the default caps: {} MiB (accounts {}, answers {}, returned ids {}, owners {}, windows {})",
        worst >> 20,
        accounts >> 20,
        answers >> 20,
        returned >> 20,
        owners >> 20,
        windows >> 20
    );
    assert!(worst < 40 << 20, "{worst} bytes");
}
