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
        p.offer(view(&e.server, "/a", at), Some(e.client.clone()), &mut out);
        assert_eq!(out.len() as u64, i + 1, "not held");
        p.offer(
            view(&e.client, "/a", at + 1),
            Some(e.server.clone()),
            &mut out,
        );
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
    p.offer(
        view(&e.client, "/a", 10 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(p.waiting(), 1);
    p.offer(
        view(&e.server, "/a", 11 * MS),
        Some(e.client.clone()),
        &mut out,
    );
    assert_eq!(through(&out), vec![(1, Some(2))]);
    assert_eq!(p.waiting(), 0);
    assert_eq!(p.counters.duplicate_views, 1);
}

#[test]
fn a_client_view_waits_at_most_the_hold_time_then_the_server_view_is_dropped() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(
        view(&e.client, "/a", 10 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    p.release_due(10 * MS + HOLD_NS - 1, &mut out);
    assert!(out.is_empty());
    p.release_due(10 * MS + HOLD_NS, &mut out);
    assert_eq!(through(&out), vec![(2, Some(1))]);
    assert_eq!(p.counters.waited_out, 1);
    // The server's view, late: a duplicate.
    p.offer(
        view(&e.server, "/a", 10 * MS + HOLD_NS + 1),
        Some(e.client.clone()),
        &mut out,
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
    p.offer(view(&e.client, "/a", 0), Some(e.server.clone()), &mut out);
    p.release_due(HOLD_NS, &mut out);
    for i in 1..5 {
        p.offer(
            view(&e.client, "/b", HOLD_NS + i * MS),
            Some(e.server.clone()),
            &mut out,
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
    p.offer(view(&e.server, "/a", 1), Some(e.client.clone()), &mut out);
    p.offer(view(&e.server, "/b", 2), Some(e.client.clone()), &mut out);
    // A client view of something the server never answered waits...
    p.offer(view(&e.client, "/c", 3), Some(e.server.clone()), &mut out);
    p.offer(view(&e.client, "/a", 4), Some(e.server.clone()), &mut out);
    p.offer(view(&e.client, "/b", 5), Some(e.server.clone()), &mut out);
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
        p.offer(view(&e.client, "/a", i), Some(e.server.clone()), &mut out);
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
    p.offer(view(&e.server, "/a", 0), Some(e.client.clone()), &mut out);
    p.release_due(EXPECT_NS, &mut out);
    assert_eq!(p.counters.expected_never_came, 1);
    assert!(p.expected.is_empty());
    // So a client view of the same request later is a new exchange.
    p.offer(
        view(&e.client, "/a", EXPECT_NS + 1),
        Some(e.server.clone()),
        &mut out,
    );
    assert_eq!(p.waiting(), 1);

    // Per connection, the oldest goes first.
    let mut p = Pairing::new();
    for i in 0..MAX_EXPECTED_PER_CONNECTION as u64 + 1 {
        p.offer(view(&e.server, "/a", i), Some(e.client.clone()), &mut out);
    }
    assert_eq!(p.counters.expected_never_came, 1);
    assert_eq!(p.expected_total, MAX_EXPECTED_PER_CONNECTION);
}

#[test]
fn a_client_end_is_muted_once_its_first_duplicate_is_dropped() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(
        view(&e.server, "/a", 100 * MS),
        Some(e.client.clone()),
        &mut out,
    );
    assert!(p.take_muted().is_empty(), "not before a duplicate");
    p.offer(
        view(&e.client, "/a", 101 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    let muted = p.take_muted();
    assert_eq!(muted.len(), 1);
    assert!(Arc::ptr_eq(&muted[0], &e.client));
    assert_eq!(p.counters.muted_ends, 1);
    // The server's later views stand for both: nothing is looked out for
    // from the muted end, so nothing is missed when it stays silent.
    for i in 2..10 {
        p.offer(
            view(&e.server, "/b", i * 100 * MS),
            Some(e.client.clone()),
            &mut out,
        );
    }
    p.release_due(20_000 * MS, &mut out);
    assert_eq!(p.counters.expected_never_came, 0);
    // A view parsed before the mute took effect is still a duplicate.
    p.offer(
        view(&e.client, "/b", 205 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    assert_eq!(p.counters.duplicate_views, 2);
    assert_eq!(through(&out), vec![(1, Some(2)); 9]);
    assert!(p.take_muted().is_empty(), "muted once");
}

#[test]
fn a_new_connection_on_a_muted_ends_addresses_is_paired_afresh() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(
        view(&e.server, "/a", 100 * MS),
        Some(e.client.clone()),
        &mut out,
    );
    p.offer(
        view(&e.client, "/a", 101 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    assert_eq!(p.take_muted().len(), 1);
    // The same addresses, a later connection (the port reused).
    let (server, client) = (end(3, Role::Server), end(4, Role::Client));
    p.offer(
        view(&client, "/c", 300 * MS),
        Some(server.clone()),
        &mut out,
    );
    assert_eq!(p.waiting(), 1, "a client view first waits for the server's");
    p.offer(
        view(&server, "/c", 301 * MS),
        Some(client.clone()),
        &mut out,
    );
    assert_eq!(through(&out), vec![(1, Some(2)), (3, Some(4))]);
    assert_eq!(p.counters.duplicate_views, 2);
    // Its server's next view is looked out for from the new client end,
    // whose duplicate then mutes it.
    p.offer(
        view(&server, "/d", 400 * MS),
        Some(client.clone()),
        &mut out,
    );
    p.offer(
        view(&client, "/d", 401 * MS),
        Some(server.clone()),
        &mut out,
    );
    let muted = p.take_muted();
    assert_eq!(muted.len(), 1);
    assert!(Arc::ptr_eq(&muted[0], &client));
}

#[test]
fn closed_muted_ends_are_forgotten() {
    let e = ends();
    let mut p = Pairing::new();
    let mut out = Vec::new();
    p.offer(
        view(&e.server, "/a", 100 * MS),
        Some(e.client.clone()),
        &mut out,
    );
    p.offer(
        view(&e.client, "/a", 101 * MS),
        Some(e.server.clone()),
        &mut out,
    );
    drop(p.take_muted());
    drop(out);
    drop(e);
    let mut out = Vec::new();
    p.release_due(5_000 * MS, &mut out);
    assert!(p.muted.is_empty());
}
