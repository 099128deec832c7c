//! Heap allocations per exchange on the agent's steady-state path: capture
//! events through the pipeline (reassembly, HTTP), the analysis with every
//! detector the default config turns on, deduplication, and the alerts and
//! exchanges files, counted by a global allocator that counts calls.
//! `cargo bench -p sensor --bench allocations` prints, per case,
//! allocations and bytes allocated per exchange (after a warm-up, so the
//! one-off cost of a new connection, endpoint or alert is not counted).
//!
//! Cases, each on one keep-alive connection:
//! - `clean`: a 1 KiB JSON answer with nginx's `Server` banner (the banner
//!   is reported once, then dropped as a repeat);
//! - `leak`: an answer with an email and a card number, the same on every
//!   exchange, so every alert after the first folds into its open
//!   deduplication window;
//! - `leak, both sides`: the same exchange seen by the client's and the
//!   server's socket on this host (loopback), as the kernel delivers it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sensor::analysis::Analysis;
use sensor::capture::payloads::Payloads;
use sensor::capture::{CaptureEvent, ConnId, Direction, Role};
use sensor::config::Config;
use sensor::conntrack::{OpenFacts, ResolveError};
use sensor::exchange::ConnectionInfo;
use sensor::pipeline::Pipeline;
use sensor::session::Session;
use sensor::sink::Outputs;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_UP: u64 = 2_000;
const MEASURED: u64 = 20_000;
/// Exchanges 100 µs apart: every deduplication window stays open.
const GAP_NS: u64 = 100_000;
const UNIX_OFFSET_NS: i128 = 1_700_000_000_000_000_000;

fn server_addr() -> SocketAddr {
    "127.0.0.1:8080".parse().unwrap()
}

fn client_addr() -> SocketAddr {
    "127.0.0.1:51234".parse().unwrap()
}

/// One side of the connection as capture sees it, with its stream offsets.
struct Side {
    conn: ConnId,
    role: Role,
    sent: u64,
    received: u64,
}

impl Side {
    fn new(pid: u32, role: Role) -> Self {
        Self {
            conn: ConnId {
                pid,
                fd: 7,
                generation: 1,
            },
            role,
            sent: 0,
            received: 0,
        }
    }

    fn open(&self, ts_ns: u64) -> CaptureEvent {
        let (local, remote) = match self.role {
            Role::Server => (server_addr(), client_addr()),
            Role::Client => (client_addr(), server_addr()),
        };
        CaptureEvent::Open {
            conn: self.conn,
            ts_ns,
            comm: match self.role {
                Role::Server => "api".into(),
                Role::Client => "client".into(),
            },
            role: Some(self.role),
            guessed_role: None,
            remote: Some(remote),
            local: Some(local),
            listener_fd: None,
            tls: false,
        }
    }

    fn data(
        &mut self,
        payloads: &mut Payloads,
        ts_ns: u64,
        direction: Direction,
        data: &Bytes,
    ) -> CaptureEvent {
        let offset = match direction {
            Direction::Egress => &mut self.sent,
            Direction::Ingress => &mut self.received,
        };
        let stream_offset = *offset;
        *offset += data.len() as u64;
        CaptureEvent::Data {
            conn: self.conn,
            ts_ns,
            direction,
            stream_offset,
            syscall_offset: stream_offset,
            syscall_len: data.len() as u32,
            // What decoding a ring buffer record costs is counted too.
            data: payloads.copy(data),
            tls: false,
        }
    }
}

fn resolve(facts: &OpenFacts) -> Result<ConnectionInfo, ResolveError> {
    sensor::conntrack::resolve(facts)
}

fn session(dir: &std::path::Path) -> Session {
    let mut config = Config::default();
    config.output.alerts = dir.join("alerts.jsonl");
    config.output.exchanges = Some(dir.join("exchanges.jsonl"));
    config.output.state_dir = dir.to_owned();
    let pipeline = Pipeline::new(&config.capture, &config.limits, UNIX_OFFSET_NS)
        .with_resolver(Box::new(resolve));
    let analysis = Analysis::from_config(&config).expect("analysis");
    let outputs = Outputs::open(&config.output)
        .expect("outputs")
        .with_alert_policy(&config.alerts);
    Session::new(pipeline, analysis, outputs)
}

fn request() -> Bytes {
    Bytes::from_static(
        b"GET /api/users/me HTTP/1.1\r\nHost: api.acme.io\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\n\r\n",
    )
}

fn response(body: &str) -> Bytes {
    Bytes::from(format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Sun, 06 Dec 2026 17:00:00 GMT\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    ))
}

fn clean_body() -> String {
    let items: Vec<String> = (0..14)
        .map(|k| {
            format!(
                r#"{{"id":{k},"name":"item {k}","price":{}.50,"stock":true}}"#,
                k * 3
            )
        })
        .collect();
    format!(r#"{{"data":[{}],"total":14}}"#, items.join(","))
}

fn leak_body() -> String {
    r#"{"id":4711,"name":"Ann Lee","email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"}"#
        .to_owned()
}

/// Runs `WARM_UP` then `MEASURED` exchanges; (allocations, bytes) per
/// measured exchange.
fn run(name: &str, body: &str, both_sides: bool) -> (f64, f64) {
    let dir = std::env::temp_dir().join(format!(
        "sensor-bench-allocations-{}-{}",
        name.replace([' ', ','], "-"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut session = session(&dir);
    let request = request();
    let response = response(body);
    let mut server = Side::new(1000, Role::Server);
    let mut client = Side::new(2000, Role::Client);
    let mut payloads = Payloads::new();
    let mut ts = 1_000_000_000u64;
    if both_sides {
        session.handle(client.open(ts));
    }
    session.handle(server.open(ts));
    let mut start = (0, 0);
    for i in 0..WARM_UP + MEASURED {
        if i == WARM_UP {
            start = (
                ALLOCS.load(Ordering::Relaxed),
                BYTES.load(Ordering::Relaxed),
            );
        }
        ts += GAP_NS;
        if both_sides {
            let event = client.data(&mut payloads, ts, Direction::Egress, &request);
            session.handle(event);
        }
        let event = server.data(&mut payloads, ts + 10_000, Direction::Ingress, &request);
        session.handle(event);
        let event = server.data(&mut payloads, ts + 20_000, Direction::Egress, &response);
        session.handle(event);
        if both_sides {
            let event = client.data(&mut payloads, ts + 30_000, Direction::Ingress, &response);
            session.handle(event);
        }
        session.deliver_done().expect("deliver");
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - start.0;
    let bytes = BYTES.load(Ordering::Relaxed) - start.1;
    session.finish(ts + GAP_NS).expect("finish");
    let _ = std::fs::remove_dir_all(&dir);
    let per = |n: u64| n as f64 / MEASURED as f64;
    (per(allocs), per(bytes))
}

fn main() {
    let cases = [
        ("clean", clean_body(), false),
        ("leak", leak_body(), false),
        ("leak, both sides", leak_body(), true),
    ];
    println!(
        "heap allocations per exchange (after {WARM_UP} warm-up exchanges, {MEASURED} measured):"
    );
    // `cargo bench -p sensor --bench allocations -- leak` runs only the
    // case named `leak` (for a profiler's view of one case).
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    for (name, body, both) in cases {
        if only.as_ref().is_some_and(|only| name != only) {
            continue;
        }
        let (allocs, bytes) = run(name, &body, both);
        println!("  {name:<18} {allocs:>8.1} allocations  {bytes:>10.0} bytes");
    }
}
