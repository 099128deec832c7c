//! Capture at the edges: connection churn at 2,000 new connections per
//! second, connections and reads older than the sensor, bodies sent with
//! sendfile, and request starts dribbled a few bytes at a time. Each runs
//! in whatever capture mode the harness forces (`SENSOR_E2E_CAPTURE_MODE`;
//! `cargo xtask test` runs this suite in both).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor_e2e::nginx::Nginx;
use sensor_e2e::*;
use serde_json::Value;

/// The mode the sensor reported in its stats.
fn mode_of(out: &SensorOutput) -> String {
    out.stats["capture_mode"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The exchanges of the nginx serving `port` (another test's nginx may
/// run at the same time).
fn nginx_side(exchanges: &[Value], port: u16) -> Vec<Value> {
    let local = format!("127.0.0.1:{port}");
    exchanges
        .iter()
        // The Host header too: in syscall mode a connection that closed
        // before the sensor read its socket has no local address.
        .filter(|e| e["comm"] == "nginx" && e["role"] == "server")
        .filter(|e| e["local"] == local.as_str() || e["host"] == local.as_str())
        .cloned()
        .collect()
}

/// Waits until the count `count()` has not grown for a second (the sensor
/// has caught up), at most `secs` seconds.
fn settle(secs: u64, count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = count();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = count();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// 2,000 new connections per second for 10 s, one request each, against
/// nginx. Every exchange must carry both addresses (socket mode reads them
/// from the socket while it is alive; the syscall fallback looks them up
/// in /proc afterwards, too late for most, which this reports).
#[test]
fn two_thousand_new_connections_per_second_all_have_addresses() {
    let dir = scratch_dir("churn");
    let nginx = Nginx::start(&dir.join("nginx"), false);
    std::fs::write(nginx.root.join("item.json"), br#"{"id":1,"name":"x"}"#).unwrap();
    let sensor = Sensor::start(&dir, &[]);
    let threads = 8u64;
    let per_thread = 2_500u64; // 20,000 connections in all
    let interval = Duration::from_micros(1_000_000 * threads / 2_000);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let done = done.clone();
            let port = nginx.port;
            std::thread::spawn(move || {
                let begin = Instant::now() + interval * t as u32 / threads as u32;
                for i in 0..per_thread {
                    let at = begin + interval * i as u32;
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    let request = format!(
                        "GET /item.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                    );
                    let mut reply = Vec::new();
                    if s.write_all(request.as_bytes()).is_ok()
                        && s.read_to_end(&mut reply).is_ok()
                        && reply.starts_with(b"HTTP/1.1 200")
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let completed = done.load(Ordering::Relaxed);
    settle(20, || nginx_side(&sensor.exchanges(), nginx.port).len());
    let out = sensor.stop();
    let seen = nginx_side(&out.exchanges, nginx.port);
    let missing: Vec<&Value> = seen
        .iter()
        .filter(|e| e["local"].is_null() || e["remote"].is_null())
        .collect();
    let rate = completed as f64 / elapsed;
    println!(
        "mode {}: {completed} requests in {elapsed:.1} s ({rate:.0} connections/s); {} server-side exchanges, {} without an address",
        mode_of(&out),
        seen.len(),
        missing.len()
    );
    assert!(completed >= 19_000, "only {completed} requests completed");
    assert!(
        rate >= 1_800.0,
        "the client only reached {rate:.0} connections/s"
    );
    assert!(
        seen.len() as f64 >= completed as f64 * 0.98,
        "{} of {completed} server-side exchanges recorded; stats: {}",
        seen.len(),
        out.stats
    );
    for e in &seen {
        assert_eq!(e["path"], "/item.json");
        assert_eq!(e["status"], 200);
    }
    if mode_of(&out) == "socket" {
        assert!(
            missing.is_empty(),
            "{} of {} exchanges lack an address, e.g. {}",
            missing.len(),
            seen.len(),
            missing[0]
        );
        for e in &seen {
            assert_eq!(e["local"], format!("127.0.0.1:{}", nginx.port), "{e}");
        }
    }
}

/// A server thread already blocked in read() on a connection opened before
/// the sensor started: the request it then reads is captured on both
/// sides, with the addresses of that old connection.
#[test]
fn connection_and_read_older_than_the_sensor_are_captured() {
    let dir = scratch_dir("blocked_read");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        let mut server = server;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"\r\n\r\n") {
            let n = server.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let body = br#"{"user":"old","id":7}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        server.write_all(head.as_bytes()).unwrap();
        server.write_all(body).unwrap();
        (got, server)
    });
    // The thread is in read() before the sensor exists.
    let tid = tid_rx.recv().unwrap();
    let syscall = format!("/proc/self/task/{tid}/syscall");
    wait_until(
        "the server thread to block in read",
        10,
        || {
            let line = std::fs::read_to_string(&syscall).unwrap_or_default();
            line.starts_with("0 ") || line.starts_with("45 ")
        },
        || std::fs::read_to_string(&syscall).unwrap_or_default(),
    );
    let sensor = Sensor::start_each_end(&dir, &[]);
    client
        .write_all(b"GET /old/connection HTTP/1.1\r\nHost: old\r\n\r\n")
        .unwrap();
    // The server keeps its socket open until the end: the syscall
    // fallback reads addresses from /proc, and only while it is open.
    let (request, _server) = reader.join().unwrap();
    assert!(request.starts_with(b"GET /old/connection"));
    let mut reply = vec![0u8; 4096];
    let n = client.read(&mut reply).unwrap();
    assert!(n > 0);
    let me = std::process::id();
    sensor.wait_for("both sides of the old connection", |e| {
        of_pid(e, me)
            .iter()
            .filter(|x| x["path"] == "/old/connection")
            .count()
            >= 2
    });
    let out = sensor.stop();
    let ours = of_pid(&out.exchanges, me);
    let server_side: Vec<_> = ours.iter().filter(|e| e["role"] == "server").collect();
    assert_eq!(server_side.len(), 1, "{}", dump(&ours));
    let e = server_side[0];
    assert_eq!(e["path"], "/old/connection");
    assert_eq!(e["status"], 200);
    assert_eq!(e["local"], format!("127.0.0.1:{port}"));
    assert_eq!(e["remote"], client.local_addr().unwrap().to_string());
    assert!(
        ours.iter().any(|e| e["role"] == "client"),
        "{}",
        dump(&ours)
    );
}

/// nginx with `sendfile on;`: the body never passes through a user
/// buffer, so it is a gap of exactly its size; the head is still parsed.
#[test]
fn sendfile_body_is_a_gap_of_its_exact_size() {
    let dir = scratch_dir("sendfile");
    let nginx = Nginx::start(&dir.join("nginx"), true);
    let size = 300_000usize;
    std::fs::write(nginx.root.join("big.json"), vec![b' '; size]).unwrap();
    let sensor = Sensor::start(&dir, &[]);
    let body = curl(&[&format!("http://127.0.0.1:{}/big.json", nginx.port)]);
    assert_eq!(body.len(), size);
    sensor.wait_for("nginx's side of the download", |e| {
        !nginx_side(e, nginx.port).is_empty()
    });
    let out = sensor.stop();
    let seen = nginx_side(&out.exchanges, nginx.port);
    assert_eq!(seen.len(), 1, "{}", dump(&seen));
    let e = &seen[0];
    assert_eq!(e["path"], "/big.json");
    assert_eq!(e["status"], 200);
    assert_eq!(e["response_bytes"], size, "{e}");
    assert_eq!(e["local"], format!("127.0.0.1:{}", nginx.port));
    assert_eq!(
        out.stats["kernel"]["sendfile_bytes"].as_u64(),
        Some(size as u64),
        "{}",
        out.stats
    );
}

/// A client that sends `GET`, pauses, then the rest; and one that dribbles
/// its request a byte at a time from the first byte (slowloris). Both
/// exchanges are captured on the server's side.
#[test]
fn request_starts_split_across_sends_are_captured() {
    let dir = scratch_dir("dribble");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    let rest = format!(
        " /item/split HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    );
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(b"GET").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(rest.as_bytes()).unwrap();
    read_response(&mut s);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_nodelay(true).unwrap();
    let request = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".to_string();
    for byte in request.as_bytes().iter().take(12) {
        s.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write_all(&request.as_bytes()[12..]).unwrap();
    read_response(&mut s);
    sensor.wait_for("both dribbled requests on the server's side", |e| {
        of_pid(e, server.pid()).len() >= 2
    });
    let out = sensor.stop();
    let seen = of_pid(&out.exchanges, server.pid());
    assert_eq!(seen.len(), 2, "{}", dump(&seen));
    assert_eq!(seen[0]["method"], "GET");
    assert_eq!(seen[0]["path"], "/item/split");
    assert_eq!(seen[0]["status"], 200);
    assert!(seen[0]["response_bytes"].as_u64().unwrap() > 10);
    assert_eq!(seen[1]["method"], "POST");
    assert_eq!(seen[1]["path"], "/upload");
    assert_eq!(seen[1]["request_bytes"], 5);
}

/// Reads one response with a JSON body (ends in `}`).
fn read_response(s: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"}") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// `process_names` judges a thread by its name, and the kernel keeps that
/// verdict per thread: a thread renamed (prctl, as servers that name
/// their workers do) is judged again. The server's one thread serves
/// `/data` as `python3` (left out), as `api-renamed` (captured), then as
/// `python3` again (left out).
#[test]
fn process_names_follow_a_thread_that_renames_itself() {
    let is_data = |e: &Value| e["path"].as_str().is_some_and(|p| p.starts_with("/data"));
    let dir = scratch_dir("renamed");
    let server = PyServer::script("renaming_server.py", &[]);
    let config = dir.join("filtered.toml");
    let capture = match forced_capture_mode() {
        Some(mode) => format!("mode = {mode:?}\n"),
        None => String::new(),
    };
    std::fs::write(
        &config,
        format!(
            "[capture]\n{capture}process_names = [\"api-renamed\"]\n\n[output]\nstate_dir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
            dir.join("state").display().to_string(),
            free_port()
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
    curl(&[&url("/data?as=python3")]);
    curl(&[&url("/rename?name=api-renamed")]);
    curl(&[&url("/data?as=renamed")]);
    curl(&[&url("/rename?name=python3")]);
    curl(&[&url("/data?as=python3-again")]);
    sensor.wait_for("the renamed thread's exchange", |x| x.iter().any(&is_data));
    // The last request's verdict is taken after the one before it: give
    // a wrong capture the time to show.
    std::thread::sleep(Duration::from_secs(1));
    let out = sensor.stop();
    let data: Vec<&Value> = out.exchanges.iter().filter(|e| is_data(e)).collect();
    assert_eq!(data.len(), 1, "{}", dump(&out.exchanges));
    assert_eq!(data[0]["comm"], "api-renamed", "{}", dump(&out.exchanges));
    assert_eq!(data[0]["pid"], server.pid(), "{}", dump(&out.exchanges));
    assert!(
        out.exchanges.iter().all(|e| e["comm"] == "api-renamed"),
        "only the renamed thread is captured: {}",
        dump(&out.exchanges)
    );
}
