//! The system OpenSSL (libssl.so.3), loaded when the HTTPS run starts.
//! The same file wrk and nginx link, so the sensor's uprobes on it see the
//! open loop's TLS calls exactly as they see wrk's. Loaded with dlopen
//! rather than linked: xtask then builds on a host with no OpenSSL
//! development files (`cargo xtask build` needs none), and the library is
//! the one the `openssl` package installs (`cargo xtask setup`).

use std::ffi::{c_int, c_void, CStr};
use std::os::fd::RawFd;

use anyhow::{bail, Context as _};

const LIBRARY: &CStr = c"libssl.so.3";
const SSL_ERROR_WANT_READ: c_int = 2;
const SSL_ERROR_WANT_WRITE: c_int = 3;
const SSL_ERROR_ZERO_RETURN: c_int = 6;

type Ssl = c_void;
type Ptr = *mut c_void;
type SslNew = unsafe extern "C" fn(Ptr) -> *mut Ssl;
type SetFd = unsafe extern "C" fn(*mut Ssl, c_int) -> c_int;
type Connect = unsafe extern "C" fn(*mut Ssl) -> c_int;
type Read = unsafe extern "C" fn(*mut Ssl, *mut c_void, c_int) -> c_int;
type Write = unsafe extern "C" fn(*mut Ssl, *const c_void, c_int) -> c_int;
type GetError = unsafe extern "C" fn(*const Ssl, c_int) -> c_int;
type Free = unsafe extern "C" fn(*mut Ssl);
type CtxFree = unsafe extern "C" fn(Ptr);
type ClientMethod = unsafe extern "C" fn() -> *const c_void;
type CtxNew = unsafe extern "C" fn(*const c_void) -> Ptr;

/// The few entry points the client calls.
pub struct LibSsl {
    ssl_new: SslNew,
    set_fd: SetFd,
    connect: Connect,
    read: Read,
    write: Write,
    get_error: GetError,
    free: Free,
    ctx_free: CtxFree,
    /// One client context for every connection (certificates unchecked,
    /// as wrk does: the bench's certificate is self-signed).
    ctx: *mut c_void,
}

/// What a non-blocking TLS read or write came to.
pub enum Io {
    Done(usize),
    WouldBlock,
    Closed,
    Failed,
}

impl LibSsl {
    pub fn load() -> anyhow::Result<Self> {
        // SAFETY: dlopen of a library by name; never closed, so the
        // function pointers below stay valid for the process's life.
        let handle = unsafe { libc::dlopen(LIBRARY.as_ptr(), libc::RTLD_NOW) };
        if handle.is_null() {
            bail!("cannot load {LIBRARY:?} (cargo xtask setup installs OpenSSL)");
        }
        let symbol = |name: &CStr| -> anyhow::Result<*mut c_void> {
            // SAFETY: a symbol looked up in the handle opened above.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            (!p.is_null())
                .then_some(p)
                .with_context(|| format!("{name:?} not in {LIBRARY:?}"))
        };
        use std::mem::transmute;
        // SAFETY (every transmute): the symbols are OpenSSL 3's public
        // functions, whose C signatures the types spell out.
        unsafe {
            let method = transmute::<Ptr, ClientMethod>(symbol(c"TLS_client_method")?);
            let ctx_new = transmute::<Ptr, CtxNew>(symbol(c"SSL_CTX_new")?);
            let ctx = ctx_new(method());
            if ctx.is_null() {
                bail!("SSL_CTX_new failed");
            }
            Ok(Self {
                ssl_new: transmute::<Ptr, SslNew>(symbol(c"SSL_new")?),
                set_fd: transmute::<Ptr, SetFd>(symbol(c"SSL_set_fd")?),
                connect: transmute::<Ptr, Connect>(symbol(c"SSL_connect")?),
                read: transmute::<Ptr, Read>(symbol(c"SSL_read")?),
                write: transmute::<Ptr, Write>(symbol(c"SSL_write")?),
                get_error: transmute::<Ptr, GetError>(symbol(c"SSL_get_error")?),
                free: transmute::<Ptr, Free>(symbol(c"SSL_free")?),
                ctx_free: transmute::<Ptr, CtxFree>(symbol(c"SSL_CTX_free")?),
                ctx,
            })
        }
    }

    /// A TLS session over the connected socket `fd`, its handshake done
    /// (the socket still blocking, before the run's clock starts).
    pub fn handshake(&self, fd: RawFd) -> anyhow::Result<Session<'_>> {
        // SAFETY: ctx is live; the SSL is freed by Session's drop.
        let ssl = unsafe { (self.ssl_new)(self.ctx) };
        if ssl.is_null() {
            bail!("SSL_new failed");
        }
        let session = Session { lib: self, ssl };
        // SAFETY: ssl is live and fd a connected socket that outlives it.
        let ok = unsafe { (self.set_fd)(ssl, fd) == 1 && (self.connect)(ssl) == 1 };
        if !ok {
            bail!("TLS handshake with the server failed");
        }
        Ok(session)
    }
}

impl Drop for LibSsl {
    fn drop(&mut self) {
        // SAFETY: every Session borrows self, so none outlives the context.
        unsafe { (self.ctx_free)(self.ctx) };
    }
}

pub struct Session<'a> {
    lib: &'a LibSsl,
    ssl: *mut Ssl,
}

impl Session<'_> {
    pub fn read(&mut self, buf: &mut [u8]) -> Io {
        let len = buf.len().min(c_int::MAX as usize) as c_int;
        // SAFETY: buf is writable for len bytes.
        let n = unsafe { (self.lib.read)(self.ssl, buf.as_mut_ptr().cast(), len) };
        self.outcome(n)
    }

    pub fn write(&mut self, buf: &[u8]) -> Io {
        let len = buf.len().min(c_int::MAX as usize) as c_int;
        // SAFETY: buf is readable for len bytes.
        let n = unsafe { (self.lib.write)(self.ssl, buf.as_ptr().cast(), len) };
        self.outcome(n)
    }

    fn outcome(&self, n: c_int) -> Io {
        if n > 0 {
            return Io::Done(n as usize);
        }
        // SAFETY: ssl is live; n is the return of the call just made.
        match unsafe { (self.lib.get_error)(self.ssl, n) } {
            SSL_ERROR_WANT_READ | SSL_ERROR_WANT_WRITE => Io::WouldBlock,
            SSL_ERROR_ZERO_RETURN => Io::Closed,
            _ => Io::Failed,
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // SAFETY: ssl came from SSL_new and is freed once.
        unsafe { (self.lib.free)(self.ssl) };
    }
}
