//! The open-loop paced client: `rate` requests/s in all over keep-alive
//! connections, each request due at a fixed time whatever the server does,
//! so that a slower server shows as latency and, once it cannot keep up,
//! as a sustained rate below the one offered. wrk with a `delay()` is a
//! closed loop instead: each connection waits for its answer before the
//! next request, so a slower server lowers the rate offered and the
//! "throughput" it reports measures added latency.
//!
//! One thread, non-blocking sockets and epoll; a periodic timerfd wakes
//! it when requests fall due. A connection carries one request at a time
//! (HTTP/1.1 without pipelining); one due while its connection still
//! waits is sent when the answer comes, its latency counted from its due
//! time (see `schedule`). Over HTTPS it calls the system OpenSSL.

mod libssl;
mod response;
mod schedule;

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use anyhow::{bail, Context as _};

use libssl::{Io, LibSsl, Session};
use schedule::{Schedule, Tally};

/// How long answers due inside the window are waited for after it.
const GRACE_NS: u64 = 2_000_000_000;
const TIMER: u64 = u64::MAX;
const READABLE: u32 = libc::EPOLLIN as u32;
const WRITABLE: u32 = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
/// Room for one response (the bench's is about 1.2 KiB with its head).
const BUFFER: usize = 16 * 1024;

/// What one run measured.
#[derive(Clone)]
pub struct Report {
    pub offered_rate: f64,
    /// Answers (200) that arrived inside the window, per second of it.
    pub sustained_rate: f64,
    /// Every 200 answer, those that came in the grace period included.
    pub answers: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Requests answered with another status or lost with their
    /// connection.
    pub errors: u64,
    /// Requests still queued or in flight when the grace period ended.
    pub unanswered: u64,
    /// The client thread's CPU (user and system) per answer.
    pub cpu_us_per_request: f64,
}

/// Offers `rate` requests/s of `url` (`http://` or `https://`, an IP
/// address and port) over `connections` for `seconds`, on a thread of its
/// own (named `paced-load`, the command name the sensor records).
pub fn run(url: &str, rate: u32, connections: usize, seconds: u32) -> anyhow::Result<Report> {
    let target = Target::parse(url)?;
    std::thread::Builder::new()
        .name("paced-load".into())
        .spawn(move || run_here(&target, rate, connections, seconds))?
        .join()
        .map_err(|_| anyhow::anyhow!("the open-loop client panicked"))?
}

struct Target {
    tls: bool,
    address: String,
    request: Vec<u8>,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let (tls, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => bail!("not an http(s) URL: {url}"),
        };
        let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        // What wrk sends: the request line and Host, nothing else.
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").into_bytes();
        Ok(Self {
            tls,
            address: address.to_owned(),
            request,
        })
    }
}

/// One keep-alive connection and the requests assigned to it.
struct Conn<'l> {
    tcp: TcpStream,
    tls: Option<Session<'l>>,
    /// Due times (ns from the start) of requests waiting for it.
    queued: VecDeque<u64>,
    /// Due time of the request sent and not answered yet.
    in_flight: Option<u64>,
    /// Bytes of the request in flight written so far.
    written: usize,
    /// Waiting for room to write (registered for EPOLLOUT).
    blocked: bool,
    buf: Box<[u8]>,
    filled: usize,
}

impl<'l> Conn<'l> {
    fn open(target: &Target, lib: Option<&'l LibSsl>) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(&target.address)
            .with_context(|| format!("connecting to {}", target.address))?;
        tcp.set_nodelay(true)?;
        let tls = lib.map(|l| l.handshake(tcp.as_raw_fd())).transpose()?;
        tcp.set_nonblocking(true)?;
        Ok(Self {
            tcp,
            tls,
            queued: VecDeque::new(),
            in_flight: None,
            written: 0,
            blocked: false,
            buf: vec![0; BUFFER].into_boxed_slice(),
            filled: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Io {
        match &mut self.tls {
            Some(s) => s.write(bytes),
            None => io(self.tcp.write(bytes)),
        }
    }

    fn read(&mut self) -> Io {
        let buf = &mut self.buf[self.filled..];
        match &mut self.tls {
            Some(s) => s.read(buf),
            None => io(self.tcp.read(buf)),
        }
    }
}

fn io(r: std::io::Result<usize>) -> Io {
    match r {
        Ok(0) => Io::Closed,
        Ok(n) => Io::Done(n),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Io::WouldBlock,
        Err(_) => Io::Failed,
    }
}

struct Client<'l> {
    target: &'l Target,
    lib: Option<&'l LibSsl>,
    epoll: OwnedFd,
    conns: Vec<Conn<'l>>,
    tally: Tally,
    /// Requests released and not yet settled (queued or in flight).
    outstanding: u64,
    window_ns: u64,
    t0: u64,
}

fn run_here(
    target: &Target,
    rate: u32,
    connections: usize,
    seconds: u32,
) -> anyhow::Result<Report> {
    let lib = target.tls.then(LibSsl::load).transpose()?;
    let window_ns = u64::from(seconds) * 1_000_000_000;
    let schedule = Schedule::new(rate, connections, window_ns);
    // SAFETY: epoll_create1 returns a new descriptor or -1.
    let epoll = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    let mut client = Client {
        target,
        lib: lib.as_ref(),
        epoll,
        conns: Vec::with_capacity(schedule.connections),
        tally: Tally::with_capacity(schedule.requests),
        outstanding: 0,
        window_ns,
        t0: 0,
    };
    for i in 0..schedule.connections {
        let conn = Conn::open(target, client.lib)?;
        client.watch(
            libc::EPOLL_CTL_ADD,
            conn.tcp.as_raw_fd(),
            i as u64,
            READABLE,
        )?;
        client.conns.push(conn);
    }
    // SAFETY: timerfd_create returns a new descriptor or -1.
    let timer = owned(unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    })?;
    client.watch(libc::EPOLL_CTL_ADD, timer.as_raw_fd(), TIMER, READABLE)?;

    let cpu_before = thread_cpu_seconds();
    client.t0 = now_ns() + 1_000_000;
    arm(&timer, client.t0, schedule.period_ns)?;
    let mut released = 0;
    let mut disarmed = false;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; schedule.connections + 1];
    loop {
        let now = now_ns();
        let elapsed = now.saturating_sub(client.t0);
        if now >= client.t0 {
            let due = schedule.due_by(elapsed);
            while released < due {
                let c = schedule.connection_of(released);
                client.conns[c].queued.push_back(schedule.due_ns(released));
                released += 1;
                client.outstanding += 1;
                client.send(c)?;
            }
        }
        if (released == schedule.requests && client.outstanding == 0)
            || elapsed >= window_ns + GRACE_NS
        {
            break;
        }
        let timeout_ms = if released < schedule.requests {
            -1
        } else {
            if !disarmed {
                arm(&timer, 0, 0)?;
                disarmed = true;
            }
            ((window_ns + GRACE_NS - elapsed) / 1_000_000 + 1) as i32
        };
        // SAFETY: events is writable for its length.
        let n = unsafe {
            libc::epoll_wait(
                client.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("epoll_wait");
        }
        for event in &events[..n as usize] {
            let (token, flags) = (event.u64, event.events);
            if token == TIMER {
                let mut expirations = [0u8; 8];
                // SAFETY: reads 8 bytes into the array. Read to rearm the
                // (level-triggered) timer; the schedule, not the count,
                // says what is due.
                unsafe { libc::read(timer.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
                continue;
            }
            let c = token as usize;
            if flags & libc::EPOLLOUT as u32 != 0 {
                client.send(c)?;
            }
            if flags & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                client.receive(c)?;
            }
        }
    }
    let cpu = thread_cpu_seconds() - cpu_before;
    let answers = client.tally.answers();
    let q = client.tally.quantiles_ms(&[0.5, 0.99, 0.999]);
    Ok(Report {
        offered_rate: schedule.offered_rate(),
        sustained_rate: client.tally.completed_in_window as f64 / seconds.max(1) as f64,
        answers,
        p50_ms: q[0],
        p99_ms: q[1],
        p999_ms: q[2],
        errors: client.tally.errors,
        unanswered: schedule.requests - answers - client.tally.errors,
        cpu_us_per_request: cpu * 1e6 / answers.max(1) as f64,
    })
}

impl Client<'_> {
    /// Sends connection `c`'s next queued request if it has none in
    /// flight, or the rest of the one it could not finish writing.
    fn send(&mut self, c: usize) -> anyhow::Result<()> {
        let target = self.target;
        let conn = &mut self.conns[c];
        if conn.in_flight.is_none() {
            let Some(due) = conn.queued.pop_front() else {
                return Ok(());
            };
            conn.in_flight = Some(due);
            conn.written = 0;
        } else if conn.written == target.request.len() {
            return Ok(());
        }
        let request = &target.request;
        loop {
            match conn.write(&request[conn.written..]) {
                Io::Done(n) => {
                    conn.written += n;
                    if conn.written == request.len() {
                        break;
                    }
                }
                Io::WouldBlock => {
                    if !conn.blocked {
                        conn.blocked = true;
                        let fd = conn.tcp.as_raw_fd();
                        self.watch(libc::EPOLL_CTL_MOD, fd, c as u64, WRITABLE)?;
                    }
                    return Ok(());
                }
                Io::Closed | Io::Failed => return self.reconnect(c),
            }
        }
        if conn.blocked {
            conn.blocked = false;
            let fd = conn.tcp.as_raw_fd();
            self.watch(libc::EPOLL_CTL_MOD, fd, c as u64, READABLE)?;
        }
        Ok(())
    }

    /// Reads what connection `c` has and settles each whole answer.
    fn receive(&mut self, c: usize) -> anyhow::Result<()> {
        loop {
            let conn = &mut self.conns[c];
            if conn.filled == conn.buf.len() {
                bail!("a response larger than {BUFFER} bytes");
            }
            let room = conn.buf.len() - conn.filled;
            let n = match conn.read() {
                Io::Done(n) => n,
                Io::WouldBlock => return Ok(()),
                Io::Closed | Io::Failed => return self.reconnect(c),
            };
            conn.filled += n;
            // A read that ended an answer and left room took all there was
            // (OpenSSL returns at most one record and reads no further
            // ahead): epoll, level-triggered, reports whatever comes
            // next, so the read that would only say "nothing more" is
            // saved.
            if self.settle(c)? && n < room {
                return Ok(());
            }
        }
    }

    /// Takes each whole answer out of connection `c`'s buffer, and sends
    /// its next request; whether there was one.
    fn settle(&mut self, c: usize) -> anyhow::Result<bool> {
        let mut settled = false;
        loop {
            let conn = &mut self.conns[c];
            let Some((status, len)) =
                response::framed(&conn.buf[..conn.filled]).map_err(anyhow::Error::msg)?
            else {
                return Ok(settled);
            };
            if conn.filled < len {
                return Ok(settled);
            }
            settled = true;
            let due = conn.in_flight.take().context("an answer to no request")?;
            self.outstanding -= 1;
            conn.buf.copy_within(len..conn.filled, 0);
            conn.filled -= len;
            if status == 200 {
                let done = now_ns().saturating_sub(self.t0);
                self.tally.answered(due, done, self.window_ns);
            } else {
                self.tally.errors += 1;
            }
            self.send(c)?;
        }
    }

    /// Replaces connection `c` after the server closed or reset it: its
    /// request in flight is an error, its queue carries on.
    fn reconnect(&mut self, c: usize) -> anyhow::Result<()> {
        let fresh = Conn::open(self.target, self.lib)?;
        // Dropping the old connection closes its socket, which leaves the
        // epoll set with it.
        let mut old = std::mem::replace(&mut self.conns[c], fresh);
        if old.in_flight.is_some() {
            self.tally.errors += 1;
            self.outstanding -= 1;
        }
        self.conns[c].queued = std::mem::take(&mut old.queued);
        drop(old);
        let fd = self.conns[c].tcp.as_raw_fd();
        self.watch(libc::EPOLL_CTL_ADD, fd, c as u64, READABLE)?;
        self.send(c)
    }

    fn watch(&self, op: i32, fd: i32, token: u64, events: u32) -> anyhow::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: event is a valid epoll_event for the call's duration.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) } != 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_ctl");
        }
        Ok(())
    }
}

fn owned(fd: i32) -> anyhow::Result<OwnedFd> {
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: a descriptor just returned to us and owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `timer` to expire at the monotonic `start_ns` and every
/// `period_ns` after it; (0, 0) disarms it.
fn arm(timer: &OwnedFd, start_ns: u64, period_ns: u64) -> anyhow::Result<()> {
    let spec = |ns: u64| libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    let value = libc::itimerspec {
        it_value: spec(start_ns),
        it_interval: spec(period_ns),
    };
    // SAFETY: value is a valid itimerspec; the old value is not wanted.
    let r = unsafe {
        libc::timerfd_settime(
            timer.as_raw_fd(),
            libc::TFD_TIMER_ABSTIME,
            &value,
            std::ptr::null_mut(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("timerfd_settime");
    }
    Ok(())
}

/// CLOCK_MONOTONIC in ns, the timerfd's clock.
fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: t is writable.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// User plus system CPU seconds of the calling thread.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
