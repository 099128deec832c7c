//! Syscalls already blocked when the programs were attached.
//!
//! A server waiting for the next request on a keep-alive connection sits in
//! `read`/`recvfrom` while the sensor starts: its `sys_enter` fired before
//! any program existed, so the `sys_exit` would find no arguments and the
//! request would be lost. `/proc/PID/task/TID/syscall` shows the syscall a
//! blocked thread is in, with its argument registers; writing those into
//! the kernel's table of syscalls in flight lets the exit capture it as if
//! the enter had been seen. A thread that returned in the meantime is
//! harmless: its next I/O syscall enter overwrites the entry.

use std::fs;
use std::path::Path;

use sensor_common::{PendingIo, BUF_IOVEC, BUF_MSGHDR, BUF_PLAIN, DIR_EGRESS, DIR_INGRESS};

/// The I/O syscalls the programs hook, by number on this architecture, with
/// their direction and buffer layout.
#[cfg(target_arch = "x86_64")]
const IO_SYSCALLS: &[(u64, u8, u8)] = &[
    (0, DIR_INGRESS, BUF_PLAIN),   // read
    (1, DIR_EGRESS, BUF_PLAIN),    // write
    (19, DIR_INGRESS, BUF_IOVEC),  // readv
    (20, DIR_EGRESS, BUF_IOVEC),   // writev
    (44, DIR_EGRESS, BUF_PLAIN),   // sendto
    (45, DIR_INGRESS, BUF_PLAIN),  // recvfrom
    (46, DIR_EGRESS, BUF_MSGHDR),  // sendmsg
    (47, DIR_INGRESS, BUF_MSGHDR), // recvmsg
];
#[cfg(target_arch = "aarch64")]
const IO_SYSCALLS: &[(u64, u8, u8)] = &[
    (63, DIR_INGRESS, BUF_PLAIN),
    (64, DIR_EGRESS, BUF_PLAIN),
    (65, DIR_INGRESS, BUF_IOVEC),
    (66, DIR_EGRESS, BUF_IOVEC),
    (206, DIR_EGRESS, BUF_PLAIN),
    (207, DIR_INGRESS, BUF_PLAIN),
    (211, DIR_EGRESS, BUF_MSGHDR),
    (212, DIR_INGRESS, BUF_MSGHDR),
];

/// A thread blocked in an I/O syscall on a socket.
#[derive(Debug, Clone, Copy)]
pub struct InFlight {
    /// `pid_tgid` as the programs key it: process id high, thread id low.
    pub pid_tgid: u64,
    pub pending: PendingIo,
}

/// Parses one `/proc/PID/task/TID/syscall` line: the syscall number then
/// six argument registers in hex. `running` and unhooked syscalls give
/// `None`.
pub fn parse_syscall_line(line: &str) -> Option<PendingIo> {
    let mut fields = line.split_whitespace();
    let number: u64 = fields.next()?.parse().ok()?;
    let &(_, direction, layout) = IO_SYSCALLS.iter().find(|(n, _, _)| *n == number)?;
    let mut args = [0u64; 3];
    for arg in &mut args {
        let field = fields.next()?;
        *arg = u64::from_str_radix(field.strip_prefix("0x")?, 16).ok()?;
    }
    Some(PendingIo {
        fd: i32::try_from(args[0]).ok()?,
        layout,
        direction,
        _pad: 0,
        buf: args[1],
        iovcnt: args[2],
    })
}

/// Every thread of the wanted processes blocked in a hooked syscall on a
/// socket fd. Processes and threads that vanish while we look are skipped.
pub fn scan(proc_root: &Path, wanted: impl Fn(u32, &str) -> bool) -> Vec<InFlight> {
    let mut found = Vec::new();
    let Ok(processes) = fs::read_dir(proc_root) else {
        return found;
    };
    for process in processes.flatten() {
        let Some(pid) = number_of(&process.file_name()) else {
            continue;
        };
        let dir = process.path();
        let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !wanted(pid, comm.trim_end()) {
            continue;
        }
        let Ok(threads) = fs::read_dir(dir.join("task")) else {
            continue;
        };
        for thread in threads.flatten() {
            let Some(tid) = number_of(&thread.file_name()) else {
                continue;
            };
            let Ok(line) = fs::read_to_string(thread.path().join("syscall")) else {
                continue;
            };
            let Some(pending) = parse_syscall_line(&line) else {
                continue;
            };
            if !is_socket(&dir, pending.fd) {
                continue;
            }
            found.push(InFlight {
                pid_tgid: (u64::from(pid) << 32) | u64::from(tid),
                pending,
            });
        }
    }
    found
}

fn number_of(name: &std::ffi::OsStr) -> Option<u32> {
    name.to_str()?.parse().ok()
}

fn is_socket(process_dir: &Path, fd: i32) -> bool {
    fs::read_link(process_dir.join("fd").join(fd.to_string()))
        .map(|target| target.to_string_lossy().starts_with("socket:"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn syscall_lines() {
        let read =
            parse_syscall_line("45 0x5 0x7f00aa 0x2000 0x0 0x0 0x0 0x7ffd 0x7f12\n").unwrap();
        assert_eq!(
            (read.fd, read.direction, read.layout, read.buf, read.iovcnt),
            (5, DIR_INGRESS, BUF_PLAIN, 0x7f00aa, 0x2000)
        );
        let writev = parse_syscall_line("20 0x9 0x10 0x3 0x0 0x0 0x0 0x1 0x2").unwrap();
        assert_eq!((writev.direction, writev.layout), (DIR_EGRESS, BUF_IOVEC));
        for line in [
            "running",
            "7 0x1 0x2 0x3 0x0 0x0 0x0 0x1 0x2",
            "0 0x5",
            "0 5 6 7",
            "",
        ] {
            assert!(parse_syscall_line(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn finds_a_thread_blocked_reading_a_socket() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            std::io::Read::read(&mut &server, &mut buf).unwrap()
        });
        let me = std::process::id();
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = scan(Path::new("/proc"), |pid, _| pid == me);
            if !seen.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        client.write_all(b"x").unwrap();
        assert_eq!(reader.join().unwrap(), 1);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].pid_tgid >> 32, u64::from(me));
        assert_eq!(seen[0].pending.direction, DIR_INGRESS);
    }
}
