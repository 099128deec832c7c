//! uprobe_multi links: the way to attach the TLS probes that needs only
//! CAP_BPF and CAP_PERFMON. Since Linux 6.16 (commit ba677dbe77af, the fix
//! of CVE-2025-38466, also taken by the stable kernels from 5.10 on)
//! `perf_event_open` refuses uprobes to anything short of CAP_SYS_ADMIN;
//! a `BPF_TRACE_UPROBE_MULTI` link (Linux 6.6 and later) is created by
//! `bpf(BPF_LINK_CREATE)` under the program's own privileges, one link per
//! program and file with every offset and cookie at once.
//!
//! Such a link takes only programs loaded with that expected attach type,
//! which aya 0.14 neither sets for uprobes nor creates links for. So this
//! module loads second copies of the TLS programs from the same object,
//! their map references relocated against the maps aya created (globals
//! included, already set), and creates the links itself. Closing a link's
//! fd detaches it; a program's fd stays open while it has links.
//!
//! A session link (`BPF_TRACE_UPROBE_SESSION`, Linux 6.13) runs one
//! program at the entry and, unless that run returned nonzero, at the
//! return: the write program is loaded a third time with that attach type
//! when the kernel takes it.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use aya::maps::{Map, MapData};
use aya::Ebpf;
use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd, bpf_prog_type};

/// `BPF_F_UPROBE_MULTI_RETURN`: probes at the functions' returns.
const RETURN_FLAG: u32 = 1;
/// `BPF_TRACE_UPROBE_SESSION` (Linux 6.13), newer than aya-obj's
/// bindings: one program at the entry and, unless the entry returned
/// nonzero, at the return.
const UPROBE_SESSION: u32 = 57;
/// Verifier log kept when a program is refused.
const LOG_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MultiError {
    #[error("the eBPF object does not parse: {0}")]
    Object(String),
    #[error("the eBPF object's map `{0}` was not created")]
    MissingMap(String),
    #[error("relocating the eBPF object: {0}")]
    Relocation(String),
    #[error("eBPF program `{0}` is missing from the object")]
    MissingProgram(&'static str),
    #[error("loading `{program}` for uprobe_multi links: {source}{log}")]
    Load {
        program: &'static str,
        source: io::Error,
        log: String,
    },
    #[error("creating a uprobe_multi link of `{program}` on {path}: {source}")]
    Link {
        program: &'static str,
        path: String,
        source: io::Error,
    },
}

impl MultiError {
    /// The kernel refused for want of privilege.
    pub fn is_permission_denied(&self) -> bool {
        let source = match self {
            Self::Load { source, .. } | Self::Link { source, .. } => source,
            _ => return false,
        };
        matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM))
    }
}

/// The TLS programs loaded for uprobe_multi links.
pub struct MultiPrograms {
    programs: HashMap<&'static str, OwnedFd>,
    /// The programs loaded for session links.
    sessions: HashMap<&'static str, OwnedFd>,
}

/// Where a link's program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// At the probed instruction.
    Entry,
    /// At the functions' returns.
    Return,
    /// At the probed instruction and, unless that run returned nonzero,
    /// at the function's return (a session program).
    Session,
}

/// One uprobe_multi link: dropping it detaches its probes.
#[derive(Debug)]
pub struct MultiLink(
    #[allow(dead_code, reason = "held for its lifetime: closing detaches")] OwnedFd,
);

impl MultiPrograms {
    /// Loads `names` from `object` (the bytes `ebpf` was loaded from),
    /// sharing `ebpf`'s maps, and `sessions` for session links where the
    /// kernel takes them (Linux 6.13): the second value is why not.
    pub fn load(
        ebpf: &Ebpf,
        object: &[u8],
        names: &[&'static str],
        sessions: &[&'static str],
    ) -> Result<(Self, Option<MultiError>), MultiError> {
        let mut obj =
            aya_obj::Object::parse(object).map_err(|err| MultiError::Object(err.to_string()))?;
        // The programs' BTF: the verifier wants each subprogram's type.
        let btf = match aya::features().btf() {
            Some(features) => obj
                .fixup_and_sanitize_btf(features)
                .map_err(|err| MultiError::Object(err.to_string()))?
                .map(|btf| load_btf(&btf.to_bytes()))
                .transpose()?,
            None => None,
        };
        let fds: Vec<(String, i32)> = obj
            .maps
            .keys()
            .map(|name| {
                let map = ebpf
                    .map(name)
                    .ok_or_else(|| MultiError::MissingMap(name.clone()))?;
                Ok((name.clone(), map_data(map).fd().as_fd().as_raw_fd()))
            })
            .collect::<Result<_, MultiError>>()?;
        let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
        let maps = obj.maps.clone();
        obj.relocate_maps(
            fds.iter()
                .map(|(name, fd)| (name.as_str(), *fd, &maps[name])),
            &text_sections,
        )
        .map_err(|err| MultiError::Relocation(err.to_string()))?;
        obj.relocate_calls(&text_sections)
            .map_err(|err| MultiError::Relocation(err.to_string()))?;
        let load = |name: &'static str, attach_type: u32| {
            let program = obj
                .programs
                .get(name)
                .ok_or(MultiError::MissingProgram(name))?;
            let function = obj
                .functions
                .get(&program.function_key())
                .ok_or(MultiError::MissingProgram(name))?;
            load_program(name, function, btf.as_ref(), &obj.license, attach_type)
        };
        let mut programs = HashMap::new();
        for &name in names {
            let fd = load(name, bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32)?;
            programs.insert(name, fd);
        }
        let mut session_programs = HashMap::new();
        let mut refused = None;
        for &name in sessions {
            match load(name, UPROBE_SESSION) {
                Ok(fd) => {
                    session_programs.insert(name, fd);
                }
                Err(err) => refused = Some(err),
            }
        }
        let programs = Self {
            programs,
            sessions: session_programs,
        };
        Ok((programs, refused))
    }

    /// True when `program` was loaded for session links.
    pub fn has_session(&self, program: &str) -> bool {
        self.sessions.contains_key(program)
    }

    /// Attaches `program` at `offsets` of the file at `path`, each with
    /// its cookie, where `kind` says, for every process.
    pub fn attach(
        &self,
        program: &'static str,
        path: &Path,
        offsets: &[u64],
        cookies: &[u64],
        kind: LinkKind,
    ) -> Result<MultiLink, MultiError> {
        assert_eq!(offsets.len(), cookies.len());
        let link_error = |source| MultiError::Link {
            program,
            path: path.display().to_string(),
            source,
        };
        let programs = match kind {
            LinkKind::Session => &self.sessions,
            LinkKind::Entry | LinkKind::Return => &self.programs,
        };
        let prog = programs
            .get(program)
            .ok_or(MultiError::MissingProgram(program))?;
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| link_error(io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: all-zero is a valid bpf_attr (every field is an integer).
        let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
        // SAFETY: writing plain integers into the union's link_create arm.
        unsafe {
            let link = &mut attr.link_create;
            link.__bindgen_anon_1.prog_fd = prog.as_raw_fd() as u32;
            link.attach_type = match kind {
                LinkKind::Session => UPROBE_SESSION,
                LinkKind::Entry | LinkKind::Return => {
                    bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32
                }
            };
            let multi = &mut link.__bindgen_anon_3.uprobe_multi;
            multi.path = c_path.as_ptr() as u64;
            multi.offsets = offsets.as_ptr() as u64;
            multi.cookies = cookies.as_ptr() as u64;
            multi.cnt = offsets.len() as u32;
            multi.flags = if kind == LinkKind::Return {
                RETURN_FLAG
            } else {
                0
            };
        }
        // The arrays and the path outlive the call.
        bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)
            .map(MultiLink)
            .map_err(link_error)
    }
}

/// The map under aya's `Map`, whatever its kind.
fn map_data(map: &Map) -> &MapData {
    match map {
        Map::Array(m)
        | Map::ArrayOfMaps(m)
        | Map::BloomFilter(m)
        | Map::CgroupArray(m)
        | Map::CgroupStorage(m)
        | Map::CgrpStorage(m)
        | Map::CpuMap(m)
        | Map::DevMap(m)
        | Map::DevMapHash(m)
        | Map::HashMap(m)
        | Map::HashOfMaps(m)
        | Map::InodeStorage(m)
        | Map::LpmTrie(m)
        | Map::LruHashMap(m)
        | Map::PerCpuArray(m)
        | Map::PerCpuCgroupStorage(m)
        | Map::PerCpuHashMap(m)
        | Map::PerCpuLruHashMap(m)
        | Map::PerfEventArray(m)
        | Map::ProgramArray(m)
        | Map::Queue(m)
        | Map::ReusePortSockArray(m)
        | Map::RingBuf(m)
        | Map::SockHash(m)
        | Map::SockMap(m)
        | Map::SkStorage(m)
        | Map::Stack(m)
        | Map::StackTraceMap(m)
        | Map::Unsupported(m)
        | Map::XskMap(m) => m,
    }
}

/// `bpf(BPF_BTF_LOAD)` of the object's BTF.
fn load_btf(btf: &[u8]) -> Result<OwnedFd, MultiError> {
    // SAFETY: all-zero is a valid bpf_attr (every field is an integer).
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: writing plain integers into the union's BTF-load arm.
    unsafe {
        let load = &mut attr.__bindgen_anon_7;
        load.btf = btf.as_ptr() as u64;
        load.btf_size = btf.len() as u32;
    }
    bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr).map_err(|source| MultiError::Load {
        program: "(BTF)",
        source,
        log: String::new(),
    })
}

/// `bpf(BPF_PROG_LOAD)` of a kprobe-type program for uprobe_multi links
/// of `attach_type`; on a refusal, again with the verifier's log for the
/// error.
fn load_program(
    name: &'static str,
    function: &aya_obj::Function,
    btf: Option<&OwnedFd>,
    license: &CString,
    attach_type: u32,
) -> Result<OwnedFd, MultiError> {
    let source = match prog_load(name, function, btf, license, attach_type, None) {
        Ok(fd) => return Ok(fd),
        Err(source) => source,
    };
    let mut log = vec![0u8; LOG_BYTES];
    if let Ok(fd) = prog_load(name, function, btf, license, attach_type, Some(&mut log)) {
        return Ok(fd);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]);
    let tail: Vec<&str> = text.lines().rev().take(5).collect();
    Err(MultiError::Load {
        program: name,
        source,
        log: if tail.is_empty() {
            String::new()
        } else {
            format!(" (verifier: {})", tail.join(" / "))
        },
    })
}

fn prog_load(
    name: &str,
    function: &aya_obj::Function,
    btf: Option<&OwnedFd>,
    license: &CString,
    attach_type: u32,
    log: Option<&mut [u8]>,
) -> io::Result<OwnedFd> {
    let instructions = &function.instructions;
    let func_info = function.func_info.func_info_bytes();
    let line_info = function.line_info.line_info_bytes();
    // SAFETY: all-zero is a valid bpf_attr (every field is an integer).
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: writing plain integers into the union's prog-load arm.
    unsafe {
        let load = &mut attr.__bindgen_anon_3;
        load.prog_type = bpf_prog_type::BPF_PROG_TYPE_KPROBE as u32;
        load.expected_attach_type = attach_type;
        load.insns = instructions.as_ptr() as u64;
        load.insn_cnt = instructions.len() as u32;
        load.license = license.as_ptr() as u64;
        for (to, from) in load.prog_name.iter_mut().zip(name.bytes().take(15)) {
            *to = from as libc::c_char;
        }
        if let Some(btf) = btf {
            load.prog_btf_fd = btf.as_raw_fd() as u32;
            if function.func_info_rec_size > 0 {
                load.func_info = func_info.as_ptr() as u64;
                load.func_info_cnt = function.func_info.len() as u32;
                load.func_info_rec_size = function.func_info_rec_size as u32;
            }
            if function.line_info_rec_size > 0 {
                load.line_info = line_info.as_ptr() as u64;
                load.line_info_cnt = function.line_info.len() as u32;
                load.line_info_rec_size = function.line_info_rec_size as u32;
            }
        }
        if let Some(log) = log {
            load.log_level = 1;
            load.log_buf = log.as_mut_ptr() as u64;
            load.log_size = log.len() as u32;
        }
    }
    // The instructions, BTF records, license and log outlive the call.
    bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
}

/// The bpf(2) system call, for commands that return a new fd.
fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid bpf_attr of the size passed; the pointers
    // it holds are valid for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}
