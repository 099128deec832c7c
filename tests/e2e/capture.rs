//! Capture end to end: the sensor on the real kernel, a real server and
//! real clients on loopback, and the exchanges file as the user reads it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use sensor_e2e::*;
use serde_json::Value;

fn server_side(exchanges: &[Value], server: &PyServer) -> Vec<Value> {
    of_pid(exchanges, server.pid())
}

fn paths(exchanges: &[Value]) -> Vec<String> {
    exchanges
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn hundred_requests_on_one_keep_alive_connection() {
    let dir = scratch_dir("keep_alive");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_each_end(&dir, &[]);
    let urls: Vec<String> = (0..100)
        .map(|i| format!("http://127.0.0.1:{}/item/{i}?q={i}", server.port))
        .collect();
    let mut args: Vec<&str> = vec!["-o", "/dev/null"];
    for url in &urls {
        args.push(url);
    }
    curl(&args);
    let all = sensor.wait_for("200 server-side and client-side exchanges", |e| {
        on_port(e, server.port).len() >= 200
    });
    let out = sensor.stop();
    let server_seen = server_side(&out.exchanges, &server);
    assert_eq!(server_seen.len(), 100, "{}", dump(&server_seen));
    let expected: Vec<String> = (0..100).map(|i| format!("/item/{i}")).collect();
    assert_eq!(paths(&server_seen), expected);
    let remotes: std::collections::HashSet<_> =
        server_seen.iter().map(|e| e["remote"].clone()).collect();
    assert_eq!(remotes.len(), 1, "one connection: {remotes:?}");
    for e in &server_seen {
        assert_eq!(e["method"], "GET");
        assert_eq!(e["status"], 200);
        assert_eq!(e["role"], "server");
        assert_eq!(e["host"], format!("127.0.0.1:{}", server.port));
        assert_eq!(e["local"], format!("127.0.0.1:{}", server.port));
        assert_eq!(e["truncated"], false);
        assert!(e["response_bytes"].as_u64().unwrap() > 10);
    }
    let client_seen: Vec<_> = on_port(&all, server.port)
        .into_iter()
        .filter(|e| e["comm"] == "curl")
        .collect();
    assert_eq!(client_seen.len(), 100);
    assert!(client_seen
        .iter()
        .all(|e| e["role"] == "client" && e["remote"] == format!("127.0.0.1:{}", server.port)));
    // Both sides agree on the connection.
    assert_eq!(client_seen[0]["local"], server_seen[0]["remote"]);
}

#[test]
fn five_mib_download_has_exact_response_bytes() {
    let dir = scratch_dir("download");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_each_end(&dir, &[]);
    let body = curl(&[&format!("http://127.0.0.1:{}/bytes/5242880", server.port)]);
    assert_eq!(body.len(), 5_242_880);
    sensor.wait_for("both sides of the download", |e| {
        on_port(e, server.port).len() >= 2
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    assert_eq!(seen.len(), 2, "{}", dump(&seen));
    for e in &seen {
        assert_eq!(e["path"], "/bytes/5242880");
        assert_eq!(e["response_bytes"], 5_242_880, "{e}");
        assert_eq!(e["status"], 200);
    }
}

#[test]
fn chunked_upload_and_chunked_download() {
    let dir = scratch_dir("chunked");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, vec![b'z'; 300_000]).unwrap();
    let reply = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", upload.display()),
        &format!("http://127.0.0.1:{}/upload", server.port),
    ]);
    assert_eq!(String::from_utf8_lossy(&reply), "{\"received\": 300000}");
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/chunked/123456", server.port),
    ]);
    // The server's side only: curl may read more than the per-syscall
    // capture limit at once, and a gap across chunk boundaries loses the
    // client's view of the chunked download (see README, Not done yet).
    sensor.wait_for("both server-side exchanges", |e| {
        server_side(e, &server).len() >= 2
    });
    let out = sensor.stop();
    let seen = server_side(&out.exchanges, &server);
    assert_eq!(seen.len(), 2, "{}", dump(&seen));
    assert_eq!(seen[0]["method"], "POST");
    assert_eq!(seen[0]["request_bytes"], 300_000);
    assert_eq!(seen[1]["response_bytes"], 123_456);
}

#[test]
fn pipelined_requests_are_matched_in_order() {
    let dir = scratch_dir("pipelined");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_each_end(&dir, &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let host = format!("127.0.0.1:{}", server.port);
    let mut batch = String::new();
    for path in ["/item/a", "/bytes/70000", "/item/c"] {
        batch.push_str(&format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    }
    batch.push_str(&format!(
        "HEAD /bytes/999 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ));
    stream.write_all(batch.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    assert!(reply.windows(4).filter(|w| w == b"HTTP").count() >= 4);
    sensor.wait_for("four server-side exchanges", |e| {
        server_side(e, &server).len() >= 4
    });
    let out = sensor.stop();
    let seen = server_side(&out.exchanges, &server);
    assert_eq!(
        paths(&seen),
        ["/item/a", "/bytes/70000", "/item/c", "/bytes/999"]
    );
    assert_eq!(seen[1]["response_bytes"], 70_000);
    assert_eq!(seen[3]["method"], "HEAD");
    assert_eq!(seen[3]["response_bytes"], 0);
    // The test process itself is the client here.
    let ours = of_pid(&out.exchanges, std::process::id());
    assert_eq!(
        paths(&ours),
        ["/item/a", "/bytes/70000", "/item/c", "/bytes/999"]
    );
}

#[test]
fn fifty_concurrent_connections() {
    let dir = scratch_dir("concurrent");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    let children: Vec<_> = (0..50)
        .map(|i| {
            Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    &format!("http://127.0.0.1:{}/item/{i}", server.port),
                ])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    sensor.wait_for("50 server-side exchanges", |e| {
        server_side(e, &server).len() >= 50
    });
    let out = sensor.stop();
    let seen = server_side(&out.exchanges, &server);
    assert_eq!(seen.len(), 50);
    let mut got = paths(&seen);
    got.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("/item/{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let remotes: std::collections::HashSet<_> = seen.iter().map(|e| e["remote"].clone()).collect();
    assert_eq!(remotes.len(), 50, "50 distinct connections");
}

#[test]
fn ipv6_loopback() {
    let dir = scratch_dir("ipv6");
    let server = PyServer::start("::1");
    let sensor = Sensor::start(&dir, &[]);
    curl(&[
        "-g",
        "-o",
        "/dev/null",
        &format!("http://[::1]:{}/item/v6", server.port),
    ]);
    sensor.wait_for("the IPv6 exchange", |e| !server_side(e, &server).is_empty());
    let out = sensor.stop();
    let seen = server_side(&out.exchanges, &server);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["local"], format!("[::1]:{}", server.port));
    assert!(seen[0]["remote"].as_str().unwrap().starts_with("[::1]:"));
    assert_eq!(seen[0]["path"], "/item/v6");
}

#[test]
fn connection_opened_before_the_sensor_started() {
    let dir = scratch_dir("preexisting");
    let server = PyServer::start("127.0.0.1");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /item/before HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_one_response(&mut stream);
    let sensor = Sensor::start_each_end(&dir, &[]);
    stream
        .write_all(b"GET /item/after HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_one_response(&mut stream);
    let local = stream.local_addr().unwrap().to_string();
    sensor.wait_for("both sides of the old connection", |e| {
        on_port(e, server.port).len() >= 2
    });
    drop(stream);
    let out = sensor.stop();
    let server_seen = server_side(&out.exchanges, &server);
    assert_eq!(paths(&server_seen), ["/item/after"]);
    assert_eq!(server_seen[0]["role"], "server");
    assert_eq!(server_seen[0]["remote"], local);
    assert_eq!(
        server_seen[0]["local"],
        format!("127.0.0.1:{}", server.port)
    );
    let ours = of_pid(&out.exchanges, std::process::id());
    assert_eq!(paths(&ours), ["/item/after"]);
    assert_eq!(ours[0]["role"], "client");
    assert_eq!(ours[0]["local"], local);
}

fn read_one_response(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.ends_with(b"}") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn non_http_streams_and_file_io_are_ignored() {
    let dir = scratch_dir("non_http");
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    let sensor = Sensor::start(&dir, &[]);
    let server = std::thread::spawn(move || {
        let (mut s, _) = echo.accept().unwrap();
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..20 {
        client
            .write_all(b"\x00\x01binary protocol frame, then GET / HTTP/1.1 inside it\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 256];
        let _ = client.read(&mut buf).unwrap();
    }
    client.shutdown(Shutdown::Both).unwrap();
    server.join().unwrap();
    // A file whose bytes look exactly like HTTP must not become an exchange.
    let file = dir.join("looks-like-http.txt");
    for _ in 0..5 {
        std::fs::write(&file, b"GET /secret HTTP/1.1\r\nHost: file\r\n\r\n").unwrap();
        let _ = std::fs::read(&file).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let out = sensor.stop();
    assert!(
        on_port(&out.exchanges, port).is_empty(),
        "{}",
        dump(&out.exchanges)
    );
    assert!(
        !out.exchanges.iter().any(|e| e["path"] == "/secret"),
        "file I/O became an exchange: {}",
        dump(&out.exchanges)
    );
    assert!(
        out.stats["kernel"]["not_http_connections"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        out.stats
    );
}

#[test]
fn hostile_and_broken_peers_leave_no_state() {
    let dir = scratch_dir("hostile");
    let server = PyServer::start("127.0.0.1");
    // The server's end only: its views are the ones checked, and no
    // other process's connections are counted as open at shutdown.
    let sensor = Sensor::start_for_processes(&dir, &["python3"]);
    let addr = ("127.0.0.1", server.port);
    // Garbage after a valid request start.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET /item/1 HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe garbage \x00\x00 not http at all\r\n\r\n",
    )
    .unwrap();
    let _ = s.read(&mut [0u8; 4096]);
    drop(s);
    // A reset in the middle of a large response body.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /bytes/3000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = s.read(&mut [0u8; 65536]);
    set_linger_zero(&s);
    drop(s);
    // Half a request, then close.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little")
        .unwrap();
    drop(s);
    // Headers that never end.
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(b"GET /item/2 HTTP/1.1\r\n");
    for i in 0..2000 {
        if s.write_all(format!("X-Filler-{i}: {}\r\n", "v".repeat(100)).as_bytes())
            .is_err()
        {
            break;
        }
    }
    drop(s);
    // And the sensor still sees a normal request afterwards.
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/item/after", server.port),
    ]);
    sensor.wait_for("the request after the hostile ones", |e| {
        server_side(e, &server)
            .iter()
            .any(|x| x["path"] == "/item/after")
    });
    std::thread::sleep(Duration::from_millis(500));
    let out = sensor.stop();
    let seen = server_side(&out.exchanges, &server);
    assert!(
        paths(&seen).contains(&"/item/1".to_owned()),
        "{}",
        dump(&seen)
    );
    assert_eq!(
        out.stats["open_connections_at_shutdown"], 0,
        "{}",
        out.stats
    );
}

/// A `ports` filter on a server's port keeps its short connections even
/// when the agent reads them after they closed: in syscall mode accept
/// tells only the client's address, and the server's port then comes
/// from the listening socket.
#[test]
fn server_port_filter_keeps_connections_closed_before_the_agent_looked() {
    let dir = scratch_dir("port_filter_late");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_on_port(&dir, server.port);
    sensor.pause();
    for i in 0..3 {
        curl(&[
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{}/item/late{i}", server.port),
        ]);
    }
    // The server closes its ends once curl has gone.
    std::thread::sleep(Duration::from_millis(500));
    sensor.resume();
    sensor.wait_for("the three server views", |e| {
        server_side(e, &server)
            .iter()
            .filter(|x| {
                x["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/item/late"))
            })
            .count()
            == 3
    });
    let out = sensor.stop();
    for view in server_side(&out.exchanges, &server) {
        let local = view["local"].as_str().unwrap_or_default();
        assert!(
            local.ends_with(&format!(":{}", server.port)),
            "{}",
            dump(std::slice::from_ref(&view))
        );
    }
}

fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads the linger struct we pass, of the size we pass.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}

#[test]
fn metrics_and_health_endpoints() {
    let dir = scratch_dir("metrics");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    for endpoint in ["healthz", "readyz"] {
        let body = curl(&[
            "-sf",
            &format!("http://127.0.0.1:{}/{endpoint}", sensor.metrics_port),
        ]);
        assert!(!body.is_empty(), "{endpoint}");
    }
    for i in 0..3 {
        curl(&[
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{}/item/{i}", server.port),
        ]);
    }
    // Both ends are captured: three records (one per exchange), six views.
    sensor.wait_for("three exchanges", |e| on_port(e, server.port).len() >= 3);
    // The page is refreshed on the sensor's 200 ms tick.
    let mut page = String::new();
    for _ in 0..50 {
        let url = format!("http://127.0.0.1:{}/metrics", sensor.metrics_port);
        page = String::from_utf8(curl(&["-sf", &url])).unwrap();
        let exchanges = page
            .lines()
            .find_map(|l| l.strip_prefix("sensor_pipeline_exchanges_total "))
            .and_then(|v| v.parse::<u64>().ok());
        if exchanges.is_some_and(|n| n >= 6) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sensor.stop();
    for metric in [
        "sensor_kernel_ringbuf_full_events_total 0",
        "sensor_kernel_events_sent_total ",
        "sensor_connections_tracked ",
        "sensor_capture_mode{mode=",
        // The binary counts its heap allocations (cargo xtask bench
        // divides them by the exchanges).
        "sensor_heap_allocations_after_ready_total ",
    ] {
        assert!(
            page.lines().any(|l| l.starts_with(metric)),
            "no {metric:?} in\n{page}"
        );
    }
}

/// A client that is gone before the agent looks it up is still named:
/// the kernel's exec record carries its program and user. The agent is
/// stopped while curl starts, asks and exits, so /proc has nothing left
/// of it when the agent reads the connection.
#[test]
fn a_client_gone_before_the_agent_looks_is_named_by_its_exec() {
    let dir = scratch_dir("gone-client");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    let pid = sensor.pid() as i32;
    // SAFETY: signalling the sensor child this test owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/gone", server.port),
    ]);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    // Socket mode pairs the two views (curl is the server's `peer`); in
    // syscall mode a connection closed before the agent read its socket
    // is not paired, and curl's view is a record of its own.
    let curl_view = |r: &Value| {
        if r["comm"] == "curl" {
            Some(r.clone())
        } else {
            (r["peer"]["comm"] == "curl").then(|| r["peer"].clone())
        }
    };
    sensor.wait_for("curl's view", |e| {
        on_port(e, server.port)
            .iter()
            .any(|r| curl_view(r).is_some())
    });
    let out = sensor.stop();
    let records = on_port(&out.exchanges, server.port);
    let curls: Vec<Value> = records.iter().filter_map(curl_view).collect();
    assert!(!curls.is_empty(), "{records:?}");
    for curl in &curls {
        let exe = curl["exe"].as_str().unwrap_or_default();
        assert!(
            exe.ends_with("/curl"),
            "curl's program not named: {records:?}"
        );
        assert_eq!(curl["uid"], 0, "{records:?}");
    }
}
