//! Socket mode, Go programs: the kernel offsets the Go probes follow from
//! a file descriptor to its socket's cookie, from the kernel's BTF.

use sensor_common::tls::FdLayout;

use crate::capture::socket::btf::{Btf, BtfError};
use crate::capture::socket::VMLINUX_BTF;

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

/// The running kernel's offsets; when they cannot be read, a layout that
/// is not ready (Go HTTPS is then counted as without a socket) and a
/// warning saying so.
pub fn running_kernel() -> FdLayout {
    let layout = std::fs::read(VMLINUX_BTF)
        .map_err(|err| format!("reading {VMLINUX_BTF}: {err}"))
        .and_then(|data| {
            Btf::parse(&data)
                .and_then(|btf| from_btf(&btf))
                .map_err(|err| format!("{VMLINUX_BTF}: {err}"))
        });
    layout.unwrap_or_else(|why| {
        tracing::warn!("HTTPS of Go programs will not be captured in socket mode: {why}");
        FdLayout::default()
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
    }
}
