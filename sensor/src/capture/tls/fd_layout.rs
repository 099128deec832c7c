//! Go programs: the kernel offsets the Go probes follow, from the kernel's
//! BTF. In socket mode, from a file descriptor to its socket's cookie; in
//! every mode, for programs built before Go 1.17, to the thread's FS base
//! (where such a program keeps its running goroutine).

use sensor_common::tls::{FdLayout, GoStackLayout};

use crate::capture::socket::btf::{Btf, BtfError};
use crate::capture::socket::VMLINUX_BTF;

/// `task_struct.thread.fsbase` from `btf`.
pub fn go_stack_from_btf(btf: &Btf) -> Result<GoStackLayout, BtfError> {
    Ok(GoStackLayout {
        ready: 1,
        task_fsbase: btf.field_offset("task_struct", "thread")?
            + btf.field_offset("thread_struct", "fsbase")?,
    })
}

/// `go_stack_from_btf` of the running kernel, read here (syscall mode
/// reads no BTF otherwise); logs and gives an unset layout when the BTF
/// cannot say.
pub fn go_stack_of_kernel() -> GoStackLayout {
    let parsed = std::fs::read(VMLINUX_BTF)
        .map_err(|err| err.to_string())
        .and_then(|data| Btf::parse(&data).map_err(|err| err.to_string()))
        .and_then(|btf| go_stack_from_btf(&btf).map_err(|err| err.to_string()));
    parsed.unwrap_or_else(|err| {
        tracing::warn!(
            "HTTPS of Go programs built before Go 1.17 will not be captured: {VMLINUX_BTF}: {err}"
        );
        GoStackLayout::default()
    })
}

/// The offsets from `btf`.
pub fn from_btf(btf: &Btf) -> Result<FdLayout, BtfError> {
    Ok(FdLayout {
        ready: 1,
        task_files: btf.field_offset("task_struct", "files")?,
        files_fdt: btf.field_offset("files_struct", "fdt")?,
        fdt_max_fds: btf.field_offset("fdtable", "max_fds")?,
        fdt_fd: btf.field_offset("fdtable", "fd")?,
        file_private_data: btf.field_offset("file", "private_data")?,
        socket_sk: btf.field_offset("socket", "sk")?,
        // `struct sock` starts with its `sock_common` (as socket mode checks).
        sk_cookie: btf.field_offset("sock_common", "skc_cookie")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's kernel has every field (the e2e tests run on it).
    #[test]
    fn the_running_kernel_has_the_fields() {
        let Ok(data) = std::fs::read(VMLINUX_BTF) else {
            return;
        };
        let layout = from_btf(&Btf::parse(&data).unwrap()).unwrap();
        assert_eq!(layout.ready, 1);
        assert!(layout.task_files > 0 && layout.sk_cookie > 0 && layout.socket_sk > 0);
        let stack = go_stack_from_btf(&Btf::parse(&data).unwrap()).unwrap();
        assert_eq!(stack.ready, 1);
        assert!(stack.task_fsbase > layout.task_files, "{stack:?}");
    }
}
