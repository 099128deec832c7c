//! `cargo xtask soak`: the sensor for a few minutes under normal traffic
//! mixed with every hostile shape at once (malformed heads, oversized
//! heads, broken chunk framing, smuggling shapes, dribbled first bytes,
//! slowloris connections, large chunked bodies cut by the capture limit,
//! four parallel 1 GiB downloads), reporting the sensor's peak RSS, its
//! CPU, and how complete the normal traffic's exchanges are.
//!
//! Loopback only. The servers are the end-to-end tests' Python servers
//! (tests/servers); the clients are threads here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::bench::sensor::Running;
use crate::{root, target_dir};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Seconds of mixed traffic.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Normal clients, each on one keep-alive connection.
    #[arg(long, default_value_t = 4)]
    clients: u32,
}

/// A Python server from tests/servers, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(script: &str, args: &[&str]) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("python3")
            .arg(root().join("tests/servers").join(script))
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {script}"))?;
        let mut line = [0u8; 10];
        child
            .stdout
            .as_mut()
            .context("server stdout")?
            .read_exact(&mut line)?;
        if &line[..9] != b"listening" {
            bail!("{script} did not start");
        }
        Ok(Server { child, port })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn soak(args: &SoakArgs) -> anyhow::Result<()> {
    let dir = target_dir().join("soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let values = dir.join("values.json");
    std::fs::write(
        &values,
        r#"{"ssn":"536-22-8174","card":"4539148803436467","aws_key_id":"AKIAZ7QW3RTLXJ5N4KPV"}"#,
    )?;
    let normal = Server::start("http_server.py", &["--bind", "127.0.0.1"])?;
    let hostile = Server::start("hostile_server.py", &["--values", values.to_str().unwrap()])?;
    let exchanges = dir.join("exchanges.jsonl");
    let stats = dir.join("stats.json");
    // The default capture mode: the soak measures what users run.
    let mut sensor = Running::start(&dir, &exchanges, &stats, "")?;
    let cpu_before = sensor.cpu_seconds()?;
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let hostile_rounds = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for client in 0..args.clients {
        let (stop, completed, port) = (stop.clone(), completed.clone(), normal.port);
        threads.push(std::thread::spawn(move || {
            normal_client(client, port, &stop, &completed)
        }));
    }
    type Shape = fn(u16) -> anyhow::Result<()>;
    let shapes: [(&str, Shape); 7] = [
        ("malformed", malformed),
        ("smuggling", smuggling),
        ("dribble", dribble),
        ("slowloris", slowloris),
        ("big chunked", |p| get(p, "/bigchunked/64")),
        ("download", |p| get(p, &format!("/download/{}", 1u64 << 30))),
        ("chunked download", |p| {
            get(p, &format!("/chunked-download/{}", 1u64 << 30))
        }),
    ];
    for (name, shape) in shapes {
        // Two of each download, so four 1 GiB downloads run at once.
        let copies = if name.contains("download") { 2 } else { 1 };
        for _ in 0..copies {
            let (stop, rounds, port) = (stop.clone(), hostile_rounds.clone(), hostile.port);
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(err) = shape(port) {
                        eprintln!("soak: {name}: {err:#}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    let mut peak_rss_sampled = 0u64;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_secs(1));
        peak_rss_sampled = peak_rss_sampled.max(sensor.peak_rss_kib()?);
        print!(
            "\r{:>4} s  peak RSS {:>6.1} MiB  normal requests {:>7}  hostile rounds {:>5}",
            started.elapsed().as_secs(),
            peak_rss_sampled as f64 / 1024.0,
            completed.load(Ordering::Relaxed),
            hostile_rounds.load(Ordering::Relaxed)
        );
        std::io::stdout().flush()?;
    }
    println!();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = sensor.cpu_seconds()? - cpu_before;
    let peak = sensor.peak_rss_kib()? as f64 / 1024.0;
    // Let the last exchanges through before stopping.
    std::thread::sleep(Duration::from_secs(2));
    sensor.stop()?;
    let sent = completed.load(Ordering::Relaxed);
    let recorded = normal_exchanges(&exchanges, normal.child.id())?;
    let stats: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats)?)?;
    let kernel = &stats["kernel"];
    let http = &stats["http"];
    println!(
        "soak: {wall:.0} s of normal traffic ({} clients) mixed with every hostile shape",
        args.clients
    );
    println!("  sensor peak RSS          {peak:.1} MiB (target <= 128)");
    println!(
        "  sensor CPU               {cpu:.1} s over {wall:.0} s ({:.0}% of one core)",
        100.0 * cpu / wall
    );
    println!(
        "  normal completeness      {recorded} / {sent} ({:.2}%)",
        100.0 * recorded as f64 / sent.max(1) as f64
    );
    println!(
        "  hostile rounds           {}",
        hostile_rounds.load(Ordering::Relaxed)
    );
    println!(
        "  shed, by reason          ring full {} B, bulk shed {} B, capture limit {} B, connections evicted for memory {}, buffer limit {} B, body bytes not kept {} B",
        kernel["ringbuf_full_bytes"], kernel["bulk_shed_bytes"], kernel["truncated_bytes"],
        stats["pipeline"]["connections_evicted_memory"], http["buffer_limit_drops"], http["body_bytes_not_kept"]
    );
    println!(
        "  fail-open                salvaged heads {}, partial bodies {}, ambiguous framing {}, chunk resyncs {}",
        http["salvaged_heads"], http["partial_bodies"], http["ambiguous_framing"], http["chunk_resyncs"]
    );
    Ok(())
}

/// GET /item/soak-C-N on one keep-alive connection, paced, counting the
/// answers read in full.
fn normal_client(client: u32, port: u16, stop: &AtomicBool, completed: &AtomicU64) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        while !stop.load(Ordering::Relaxed) {
            let request = format!("GET /item/soak-{client}-{n} HTTP/1.1\r\nHost: soak\r\n\r\n");
            if s.write_all(request.as_bytes()).is_err() || read_response(&mut s).is_err() {
                break;
            }
            n += 1;
            completed.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Reads one Content-Length response.
fn read_response(s: &mut TcpStream) -> anyhow::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            bail!("closed");
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no content-length")?;
    let mut body = vec![0u8; length];
    s.read_exact(&mut body)?;
    Ok(())
}

/// Sends `request` on a new connection and reads the answer to its end.
fn send(port: u16, request: &[u8]) -> anyhow::Result<u64> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

fn get(port: u16, path: &str) -> anyhow::Result<()> {
    send(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes(),
    )
    .map(drop)
}

fn malformed(port: u16) -> anyhow::Result<()> {
    send(port, b"GET /raw/\xff/x HTTP/1.1\r\nHost: h\r\n\r\n")?;
    let mut big = b"GET /bighead HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..70 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    send(port, &big)?;
    send(port, b"GET /badchunk HTTP/1.1\r\nHost: h\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100));
    Ok(())
}

fn smuggling(port: u16) -> anyhow::Result<()> {
    send(port, b"POST /both HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED")?;
    send(port, b"POST /twice HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 10\r\n\r\nabcdefghij")?;
    send(port, b"POST /spaced HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100));
    Ok(())
}

/// A first write of one to three bytes, the rest 100 ms later.
fn dribble(port: u16) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET")?;
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b" /dribble HTTP/1.1\r\nHost: h\r\n\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    Ok(())
}

/// Twenty connections sending their head one byte every 50 ms.
fn slowloris(port: u16) -> anyhow::Result<()> {
    let request = b"GET /slowloris HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n";
    let mut conns: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", port)))
        .collect::<Result<_, _>>()?;
    for &b in request.iter() {
        for c in &mut conns {
            c.write_all(&[b])?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer);
    }
    Ok(())
}

/// Server-side exchanges of the normal clients the sensor wrote.
fn normal_exchanges(exchanges: &Path, server_pid: u32) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(exchanges).unwrap_or_default();
    let mut n = 0;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        // The last segment (`soak-C-N`) may be masked as a token in the
        // record: every /item/ exchange of this server is a normal one.
        if v["pid"] == server_pid && v["path"].as_str().is_some_and(|p| p.starts_with("/item/")) {
            n += 1;
        }
    }
    Ok(n)
}
