//! Socket mode, Go programs: the kernel offsets the Go probes follow from
//! a file descriptor to its socket's cookie, from the kernel's BTF.

use sensor_common::tls::FdLayout;

use crate::capture::socket::btf::{Btf, BtfError};

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
    use crate::capture::socket::VMLINUX_BTF;

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
