//! Pairing the two views of an exchange between two local processes.

use std::sync::Arc;

use super::*;
use crate::analysis::detect::tests::exchange;

const MS: u64 = 1_000_000;

fn end(pid: u32, role: Role) -> Arc<ConnectionInfo> {
    let (server, client) = ("127.0.0.1:8080", "127.0.0.1:50000");
    let (local, remote) = match role {
        Role::Server => (server, client),
        Role::Client => (client, server),
    };
    Arc::new(ConnectionInfo {
        pid,
        comm: format!("p{pid}"),
        fd: 4,
        generation: 1,
        role,
        local: Some(local.parse().unwrap()),
        remote: Some(remote.parse().unwrap()),
        tls: false,
        process: Default::default(),
    })
}

/// The view `seen` had of `GET target`, completed at `at_ns`.
fn view(seen: &Arc<ConnectionInfo>, target: &str, at_ns: u64) -> HttpExchange {
    let mut x = exchange("GET", target, &[], "", &[], "{}");
    x.connection = Arc::clone(seen);
    x.timings.response_end_ns = at_ns;
    x
}

/// `by`'s view of `GET target`, completed at `at_ns`, offered with `peer`
/// as the other end.
fn offer(
    p: &mut Pairing,
    out: &mut Vec<Paired>,
    by: &Arc<ConnectionInfo>,
    peer: &Arc<ConnectionInfo>,
    target: &str,
    at_ns: u64,
) {
    p.offer(view(by, target, at_ns), Some(peer.clone()), out);
}

struct Ends {
    server: Arc<ConnectionInfo>,
    client: Arc<ConnectionInfo>,
}

fn ends() -> Ends {
    Ends {
        server: end(1, Role::Server),
        client: end(2, Role::Client),
    }
}

/// (pid of the view let through, pid of its peer) for each of `out`.
fn through(out: &[Paired]) -> Vec<(u32, Option<u32>)> {
    out.iter()
        .map(|p| (p.exchange.connection.pid, p.peer.as_ref().map(|c| c.pid)))
        .collect()
}

#[test]
fn the_servers_view_goes_through_at_once_and_the_clients_is_dropped() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    for i in 0..3 {
        let at = 100 * MS * (i + 1);
        offer(&mut p, &mut out, &e.server, &e.client, "/a", at);
        assert_eq!(out.len() as u64, i + 1, "not held");
        offer(&mut p, &mut out, &e.client, &e.server, "/a", at + 1);
    }
    assert_eq!(through(&out), vec![(1, Some(2)); 3]);
    assert_eq!(p.counters.both_ends, 3);
    assert_eq!(p.counters.duplicate_views, 3);
    assert_eq!(p.waiting(), 0);
}

#[test]
fn a_client_view_first_waits_for_the_servers() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 10 * MS);
    assert!(out.is_empty());
    assert_eq!(p.waiting(), 1);
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 11 * MS);
    assert_eq!(through(&out), vec![(1, Some(2))]);
    assert_eq!(p.waiting(), 0);
    assert_eq!(p.counters.duplicate_views, 1);
}

#[test]
fn a_client_view_waits_at_most_the_hold_time_then_the_server_view_is_dropped() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 10 * MS);
    p.release_due(10 * MS + HOLD_NS - 1, &mut out);
    assert!(out.is_empty());
    p.release_due(10 * MS + HOLD_NS, &mut out);
    assert_eq!(through(&out), vec![(2, Some(1))]);
    assert_eq!(p.counters.waited_out, 1);
    // The server's view, late: a duplicate.
    offer(
        &mut p,
        &mut out,
        &e.server,
        &e.client,
        "/a",
        10 * MS + HOLD_NS + 1,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(p.counters.duplicate_views, 1);
}

#[test]
fn a_server_end_that_never_answers_costs_one_wait_per_connection() {
    // The server's TLS library is not hooked: its socket is captured, its
    // exchanges never come.
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 0);
    p.release_due(HOLD_NS, &mut out);
    for i in 1..5 {
        offer(
            &mut p,
            &mut out,
            &e.client,
            &e.server,
            "/b",
            HOLD_NS + i * MS,
        );
        assert_eq!(out.len() as u64, i + 1, "not held");
    }
    assert_eq!(p.counters.waited_out, 1);
    assert_eq!(p.counters.both_ends, 5);
}

#[test]
fn one_end_captured_goes_through_unchanged() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(view(&e.server, "/a", 1), None, &mut out);
    p.offer(view(&e.client, "/a", 2), None, &mut out);
    assert_eq!(through(&out), vec![(1, None), (2, None)]);
    assert_eq!(p.counters.one_end, 2);
    assert_eq!(p.counters.duplicate_views, 0);
}

#[test]
fn views_are_matched_in_order_by_method_target_and_status() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    // Pipelined: the server finishes /a and /b before the client reads.
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 1);
    offer(&mut p, &mut out, &e.server, &e.client, "/b", 2);
    // A client view of something the server never answered waits...
    offer(&mut p, &mut out, &e.client, &e.server, "/c", 3);
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 4);
    offer(&mut p, &mut out, &e.client, &e.server, "/b", 5);
    let paths: Vec<&str> = out
        .iter()
        .map(|p| p.exchange.request.target.as_str())
        .collect();
    assert_eq!(paths, ["/a", "/b"]);
    assert_eq!(p.waiting(), 1);
    // ... and goes through at the end.
    p.release_all(&mut out);
    assert_eq!(out[2].exchange.request.target, "/c");
}

#[test]
fn waiting_is_bounded_in_views_and_bytes() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    for i in 0..MAX_WAITING as u64 + 10 {
        offer(&mut p, &mut out, &e.client, &e.server, "/a", i);
    }
    assert_eq!(p.waiting(), MAX_WAITING);
    assert_eq!(out.len(), 10);
    assert_eq!(p.counters.released_at_bound, 10);

    let mut p = Pairing::new();
    let mut out = Vec::new();
    let big = "x".repeat(MAX_WAITING_BYTES / 2 + 1);
    for i in 0..3 {
        let mut x = exchange("POST", "/up", &[], &big, &[], "");
        x.connection = e.client.clone();
        x.timings.response_end_ns = i;
        p.offer(x, Some(e.server.clone()), &mut out);
    }
    assert_eq!(p.waiting(), 1);
    assert_eq!(p.counters.released_at_bound, 2);
}

#[test]
fn expected_views_that_never_come_are_forgotten() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 0);
    p.release_due(EXPECT_NS, &mut out);
    assert_eq!(p.counters.expected_never_came, 1);
    assert!(p.expected.is_empty());
    // So a client view of the same request later is a new exchange.
    offer(&mut p, &mut out, &e.client, &e.server, "/a", EXPECT_NS + 1);
    assert_eq!(p.waiting(), 1);

    // Per connection, the oldest goes first.
    let mut p = Pairing::new();
    for i in 0..MAX_EXPECTED_PER_CONNECTION as u64 + 1 {
        offer(&mut p, &mut out, &e.server, &e.client, "/a", i);
    }
    assert_eq!(p.counters.expected_never_came, 1);
    assert_eq!(p.expected_total, MAX_EXPECTED_PER_CONNECTION);
}

#[test]
fn a_client_end_is_muted_once_its_first_duplicate_is_dropped() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 100 * MS);
    assert!(p.take_muted().is_empty(), "not before a duplicate");
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 101 * MS);
    let muted = p.take_muted();
    assert_eq!(muted.len(), 1);
    assert!(Arc::ptr_eq(&muted[0], &e.client));
    assert_eq!(p.counters.muted_ends, 1);
    // The server's later views stand for both: nothing is looked out for
    // from the muted end, so nothing is missed when it stays silent.
    for i in 2..10 {
        offer(&mut p, &mut out, &e.server, &e.client, "/b", i * 100 * MS);
    }
    p.release_due(20_000 * MS, &mut out);
    assert_eq!(p.counters.expected_never_came, 0);
    // A view parsed before the mute took effect is still a duplicate.
    offer(&mut p, &mut out, &e.client, &e.server, "/b", 205 * MS);
    assert_eq!(p.counters.duplicate_views, 2);
    assert_eq!(through(&out), vec![(1, Some(2)); 9]);
    assert!(p.take_muted().is_empty(), "muted once");
}

#[test]
fn a_new_connection_on_a_muted_ends_addresses_is_paired_afresh() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 100 * MS);
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 101 * MS);
    assert_eq!(p.take_muted().len(), 1);
    // The same addresses, a later connection (the port reused).
    let (server, client) = (end(3, Role::Server), end(4, Role::Client));
    offer(&mut p, &mut out, &client, &server, "/c", 300 * MS);
    assert_eq!(p.waiting(), 1, "a client view first waits for the server's");
    offer(&mut p, &mut out, &server, &client, "/c", 301 * MS);
    assert_eq!(through(&out), vec![(1, Some(2)), (3, Some(4))]);
    assert_eq!(p.counters.duplicate_views, 2);
    // Its server's next view is looked out for from the new client end,
    // whose duplicate then mutes it.
    offer(&mut p, &mut out, &server, &client, "/d", 400 * MS);
    offer(&mut p, &mut out, &client, &server, "/d", 401 * MS);
    let muted = p.take_muted();
    assert_eq!(muted.len(), 1);
    assert!(Arc::ptr_eq(&muted[0], &client));
}

#[test]
fn closed_muted_ends_are_forgotten() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    offer(&mut p, &mut out, &e.server, &e.client, "/a", 100 * MS);
    offer(&mut p, &mut out, &e.client, &e.server, "/a", 101 * MS);
    drop(p.take_muted());
    drop(out);
    drop(e);
    let mut out = Vec::new();
    p.release_due(5_000 * MS, &mut out);
    assert!(p.muted.is_empty());
}

/// `end`, as its TLS library's plaintext.
fn over_tls(end: &Arc<ConnectionInfo>) -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo {
        tls: true,
        ..(**end).clone()
    })
}

#[test]
fn a_tls_servers_view_waits_for_a_local_client_end_not_captured_yet() {
    // A TLS client's request is captured when its write returns: on a busy
    // host the server has answered before the client's end is known.
    let (server, client) = (over_tls(&ends().server), over_tls(&ends().client));
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(view(&server, "/a", 10 * MS), None, &mut out);
    assert!(out.is_empty(), "held");
    assert_eq!(p.waiting(), 1);
    offer(&mut p, &mut out, &client, &server, "/a", 40 * MS);
    assert_eq!(through(&out), vec![(1, Some(2))]);
    assert_eq!(p.waiting(), 0);
    assert_eq!(p.counters.late_client_ends, 1);
    assert_eq!(p.counters.duplicate_views, 1);
    assert_eq!(p.counters.both_ends, 1);
    assert_eq!(p.take_muted().len(), 1, "the client end is muted");
}

#[test]
fn a_held_tls_server_view_goes_on_with_its_peer_when_a_later_view_finds_it() {
    let (server, client) = (over_tls(&ends().server), over_tls(&ends().client));
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(view(&server, "/a", 10 * MS), None, &mut out);
    offer(&mut p, &mut out, &server, &client, "/b", 20 * MS);
    assert_eq!(through(&out), vec![(1, Some(2)), (1, Some(2))], "in order");
    // Both client views, when they come, are duplicates.
    offer(&mut p, &mut out, &client, &server, "/a", 30 * MS);
    offer(&mut p, &mut out, &client, &server, "/b", 31 * MS);
    assert_eq!(out.len(), 2);
    assert_eq!(p.counters.duplicate_views, 2);
}

#[test]
fn a_tls_server_whose_local_client_never_shows_waits_once_per_connection() {
    let server = over_tls(&ends().server);
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(view(&server, "/a", 0), None, &mut out);
    p.release_due(HOLD_NS - 1, &mut out);
    assert!(out.is_empty());
    p.release_due(HOLD_NS, &mut out);
    assert_eq!(through(&out), vec![(1, None)]);
    for i in 1..4 {
        p.offer(view(&server, "/b", HOLD_NS + i * MS), None, &mut out);
        assert_eq!(out.len() as u64, i + 1, "not held");
    }
    assert_eq!(p.counters.waited_out, 1);
    assert_eq!(p.counters.late_client_ends, 1);
    assert_eq!(p.counters.one_end, 4);
}

#[test]
fn only_tls_server_views_from_this_host_wait_for_their_client() {
    let mut p = Pairing::new();
    let mut out = Vec::new();
    // Plain HTTP: the client's end is known from its first send.
    p.offer(view(&ends().server, "/a", 0), None, &mut out);
    // A client on another host.
    let remote = Arc::new(ConnectionInfo {
        remote: Some("10.1.2.3:50000".parse().unwrap()),
        local: Some("10.9.9.9:8443".parse().unwrap()),
        ..(*over_tls(&ends().server)).clone()
    });
    p.offer(view(&remote, "/a", 1), None, &mut out);
    // A client's own view with its server not captured.
    p.offer(view(&over_tls(&ends().client), "/a", 2), None, &mut out);
    assert_eq!(out.len(), 3, "none held");
    assert_eq!(p.counters.late_client_ends, 0);
}
