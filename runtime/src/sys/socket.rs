//! Socket system calls that `std` either does not expose or exposes blocking:
//! creating non-blocking sockets, `listen` with a real backlog, `accept4`,
//! non-blocking `connect`, and `send`/`recv` with `MSG_NOSIGNAL`.
//!
//! Sockets are handed back as `std::net` types so the rest of the crate can use
//! their safe accessors (`local_addr`, `set_nodelay`, `take_error`, ...).

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{context, cvt, cvt_size};

/// Backlog for listening sockets; the kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: libc::c_int = 4096;

fn new_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: no pointers involved.
    let fd = cvt(unsafe { libc::socket(domain, ty, 0) }).map_err(|e| context(e, "socket"))?;
    // SAFETY: fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A `sockaddr_storage` filled from a `SocketAddr`, with its length.
fn to_raw(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Reads a `SocketAddr` back out of a `sockaddr_storage` the kernel filled.
fn from_raw(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        family => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected address family {family}"),
        )),
    }
}

/// Creates a non-blocking listening socket bound to `addr` (`SO_REUSEADDR` set,
/// as every server wants after a restart).
pub(crate) fn listen(addr: &SocketAddr) -> io::Result<TcpListener> {
    let fd = new_socket(addr)?;
    set_int_opt(
        fd.as_fd(),
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        1,
        "SO_REUSEADDR",
    )?;
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a valid sockaddr of length `len`.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    })
    .map_err(|e| context(e, format_args!("bind {addr}")))?;
    // SAFETY: no pointers involved.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), LISTEN_BACKLOG) })
        .map_err(|e| context(e, format_args!("listen on {addr}")))?;
    Ok(TcpListener::from(fd))
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`, retrying `EINTR` and the
/// network errors that Linux reports on the *accepting* socket for a connection
/// that already died (`ECONNABORTED`, ...): those concern the dead peer, not us.
// ANCHOR: accept
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<(TcpStream, SocketAddr)> {
    let listener = listener.as_raw_fd();
    loop {
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: storage and len are valid for writes of the sizes given.
        let fd = unsafe {
            libc::accept4(
                listener,
                storage.as_mut_ptr().cast(),
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(fd) {
            Ok(fd) => {
                // SAFETY: accept4 returned a fresh descriptor that we now own.
                let stream = unsafe { TcpStream::from_raw_fd(fd) };
                // SAFETY: zero-initialised, then possibly filled by the kernel.
                let peer = from_raw(unsafe { storage.assume_init_ref() })?;
                return Ok((stream, peer));
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
                _ => return Err(e),
            },
        }
    }
}
// ANCHOR_END: accept

/// Starts a non-blocking connect. `Ok((stream, true))` means the connection is
/// still in progress: wait for writability, then check `take_error`.
// ANCHOR: connect
pub(crate) fn connect(addr: &SocketAddr) -> io::Result<(TcpStream, bool)> {
    let fd = new_socket(addr)?;
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a valid sockaddr of length `len`.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    let stream = TcpStream::from(fd);
    match cvt(r) {
        Ok(_) => Ok((stream, false)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((stream, true)),
        // A signal during a non-blocking connect leaves it in progress.
        Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok((stream, true)),
        Err(e) => Err(context(e, format_args!("connect to {addr}"))),
    }
}
// ANCHOR_END: connect

/// `recv` into `buf`, retrying `EINTR` ([`recv_uninit`] over initialised
/// memory).
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and
    // `recv_uninit` lets only the kernel write into the buffer, which writes
    // initialised bytes, so `buf` stays initialised.
    let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    recv_uninit(fd, buf)
}

// ANCHOR: recv_uninit
/// `recv` into memory that may be uninitialised, retrying `EINTR`. On `Ok(n)`
/// the kernel has written the first `n` bytes of `buf`. No `&mut [u8]` is
/// ever made over `buf`: that would claim its bytes are initialised, which
/// is undefined behaviour before `recv` has written them.
pub(crate) fn recv_uninit(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel
        // only writes to it and never reads it, so whether its bytes are
        // initialised does not matter.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        match cvt_size(n) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
// ANCHOR_END: recv_uninit

/// `send` with `MSG_NOSIGNAL`, so a peer that went away gives `EPIPE` rather
/// than killing the process with `SIGPIPE`. Retries `EINTR`.
// ANCHOR: send
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        match cvt_size(n) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
// ANCHOR_END: send

// ANCHOR: gather_max
/// Up to this many bytes in all, [`send_vectored`] copies several buffers
/// into one on the stack and `send`s that, instead of handing the kernel the
/// list with `sendmsg`. The kernel's `sendmsg` and `writev` first copy in a
/// message header and the buffer list, and on the kernel measured (6.18, in
/// a VM) that cost ~400 ns more CPU than `send` for a 100-byte write in two
/// buffers (1,500 vs 1,900–2,000 ns), ~200 ns for 2 KiB; copying a few KiB
/// costs less than that, and at 8 KiB the two come out even
/// (`examples/write_syscalls.rs` prints the table). An HTTP response head
/// with a small body is the case this is for.
pub(crate) const GATHER_MAX: usize = 4096;
// ANCHOR_END: gather_max

// ANCHOR: send_vectored
/// Writes several buffers as one byte stream with `MSG_NOSIGNAL`, in one
/// system call: `send` when there is one non-empty buffer or when they add up
/// to at most [`GATHER_MAX`] bytes (gathered on the stack), `sendmsg`
/// otherwise. Returns how many bytes of the concatenation went out, as
/// `sendmsg` would. Retries `EINTR`.
pub(crate) fn send_vectored(fd: BorrowedFd<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
    let total = match (non_empty.next(), non_empty.next()) {
        (None, _) => return send(fd, &[]),
        (Some(only), None) => return send(fd, only),
        _ => bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len())),
    };
    if total <= GATHER_MAX {
        let mut stack = [MaybeUninit::<u8>::uninit(); GATHER_MAX];
        return send(fd, gather(bufs, &mut stack));
    }
    sendmsg(fd, bufs)
}
// ANCHOR_END: send_vectored

/// Copies `bufs` one after the other into the start of `out` and returns the
/// filled part. `out` must be long enough (the caller checked the total).
fn gather<'a>(bufs: &[io::IoSlice<'_>], out: &'a mut [MaybeUninit<u8>]) -> &'a [u8] {
    let mut len = 0;
    for buf in bufs {
        out[len..len + buf.len()].write_copy_of_slice(buf);
        len += buf.len();
    }
    // SAFETY: the loop wrote every byte of `out[..len]`, in order and with
    // no gaps, so all of them are initialised.
    unsafe { out[..len].assume_init_ref() }
}

/// `sendmsg` of several buffers at once with `MSG_NOSIGNAL`. Retries `EINTR`.
fn sendmsg(fd: BorrowedFd<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is guaranteed ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _;
    loop {
        // SAFETY: `msg` points at `bufs`, which outlive the call.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
        match cvt_size(n) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// `readv` into several buffers at once (what `std`'s `read_vectored` on a
/// socket does). Retries `EINTR`.
pub(crate) fn recv_vectored(
    fd: BorrowedFd<'_>,
    bufs: &mut [io::IoSliceMut<'_>],
) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    // IoSliceMut is guaranteed ABI-compatible with iovec on Unix.
    let iov = bufs.as_mut_ptr() as *mut libc::iovec;
    let count = bufs.len().min(1024) as libc::c_int;
    loop {
        // SAFETY: `iov` points at `count` iovecs describing buffers valid for
        // writes, which outlive the call.
        let n = unsafe { libc::readv(fd, iov, count) };
        match cvt_size(n) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Starts a non-blocking connect of a Unix stream socket to `to` (a path or,
/// on Linux, an abstract name). `Ok((stream, true))`: still in progress; wait
/// for writability, then check `take_error`. (A full listener backlog is
/// `EAGAIN`, an error: nothing is in progress then.)
pub(crate) fn unix_connect(
    to: &std::os::unix::net::SocketAddr,
) -> io::Result<(std::os::unix::net::UnixStream, bool)> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    // An abstract name starts with a NUL byte and is not terminated; a path
    // is terminated (std's `SocketAddr` has already checked both).
    let (lead, name, tail) = match (to.as_pathname(), to.as_abstract_name()) {
        (Some(path), _) => (0, path.as_os_str().as_bytes(), 1),
        (None, Some(name)) => (1, name, 0),
        (None, None) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot connect to an unnamed Unix socket address",
            ))
        }
    };
    // SAFETY: no pointers involved.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })
    .map_err(|e| context(e, "socket(AF_UNIX)"))?;
    // SAFETY: fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero bytes are a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if lead + name.len() + tail > addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{to:?} is too long for a Unix socket address"),
        ));
    }
    for (dst, src) in addr.sun_path[lead..].iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + lead + name.len() + tail;
    // SAFETY: `addr` is a valid sockaddr_un of at least `len` bytes.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    let stream = std::os::unix::net::UnixStream::from(fd);
    match cvt(r) {
        Ok(_) => Ok((stream, false)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((stream, true)),
        Err(e) => Err(context(e, format_args!("connect to {to:?}"))),
    }
}

/// The credentials of the process at the other end of a Unix socket, as the
/// kernel recorded them at `connect` (or `socketpair`) time.
pub(crate) fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<libc::ucred> {
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, "SO_PEERCRED")
}

/// A fresh non-blocking, close-on-exec TCP socket of the given family, not
/// yet bound or connected (for `TcpSocket`).
pub(crate) fn tcp_socket(v6: bool) -> io::Result<OwnedFd> {
    let any = if v6 {
        SocketAddr::V6(SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0))
    } else {
        SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    new_socket(&any)
}

/// A value `getsockopt` may write: a plain C integer or struct.
///
/// # Safety
/// All-zero bytes are a valid value of the type, and every bit pattern the
/// kernel writes into it is one too.
unsafe trait SockOptValue: Copy {}
// SAFETY: integers and structs of integers: any bytes are a valid value.
unsafe impl SockOptValue for libc::c_int {}
// SAFETY: as above (two `c_int`s).
unsafe impl SockOptValue for libc::linger {}
// SAFETY: as above (`pid_t`, `uid_t`, `gid_t`).
unsafe impl SockOptValue for libc::ucred {}

/// `setsockopt` of one option; `what` names it in the error.
#[inline(never)]
fn setsockopt<T: SockOptValue>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
    what: &str,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `T` and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
    .map_err(|e| context(e, format_args!("setsockopt({what})")))
}

/// `getsockopt` of one option; `what` names it in the error.
#[inline(never)]
fn getsockopt<T: SockOptValue>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    what: &str,
) -> io::Result<T> {
    // SAFETY: all-zero bytes are a valid `T` (`SockOptValue`).
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes of the sizes given; what
    // the kernel writes is a valid `T` (`SockOptValue`).
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })
    .map_err(|e| context(e, format_args!("getsockopt({what})")))?;
    Ok(value)
}

/// `setsockopt` of an integer option; `what` names it in the error.
pub(crate) fn set_int_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
    what: &str,
) -> io::Result<()> {
    setsockopt(fd, level, name, value, what)
}

/// `getsockopt` of an integer option.
pub(crate) fn int_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    what: &str,
) -> io::Result<libc::c_int> {
    getsockopt(fd, level, name, what)
}

/// `SO_ERROR`: the error a non-blocking `connect` ended with, if any
/// (reading it clears it).
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    let err: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, "SO_ERROR")?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `SO_LINGER`: `None` turns it off (close returns at once, the kernel sends
/// what is left in the background); `Some(d)` makes close wait up to `d`,
/// and `Some(ZERO)` makes it reset the connection.
pub(crate) fn set_linger(
    fd: BorrowedFd<'_>,
    linger: Option<std::time::Duration>,
) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: linger.is_some() as libc::c_int,
        l_linger: linger.map_or(0, |d| {
            d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
        }),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, value, "SO_LINGER")
}

/// Reads `SO_LINGER` back (see [`set_linger`]).
pub(crate) fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<std::time::Duration>> {
    let value: libc::linger = getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, "SO_LINGER")?;
    Ok((value.l_onoff != 0).then(|| std::time::Duration::from_secs(value.l_linger as u64)))
}

/// `bind` of an existing socket.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a valid sockaddr of length `len`.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    })
    .map(drop)
    .map_err(|e| context(e, format_args!("bind {addr}")))
}

/// `listen` on a bound (or unbound: the kernel picks a port) socket.
pub(crate) fn listen_on(fd: OwnedFd, backlog: u32) -> io::Result<TcpListener> {
    let backlog = backlog.min(libc::c_int::MAX as u32) as libc::c_int;
    // SAFETY: no pointers involved.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map_err(|e| context(e, "listen"))?;
    Ok(TcpListener::from(fd))
}

/// Starts a non-blocking connect of an existing socket; as [`connect`].
pub(crate) fn connect_with(fd: OwnedFd, addr: &SocketAddr) -> io::Result<(TcpStream, bool)> {
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a valid sockaddr of length `len`.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    let stream = TcpStream::from(fd);
    match cvt(r) {
        Ok(_) => Ok((stream, false)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {
            Ok((stream, true))
        }
        Err(e) => Err(context(e, format_args!("connect to {addr}"))),
    }
}

/// `getsockname`.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage and len are valid for writes of the sizes given.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), storage.as_mut_ptr().cast(), &mut len) })
        .map_err(|e| context(e, "getsockname"))?;
    // SAFETY: zero-initialised, then filled by the kernel.
    from_raw(unsafe { storage.assume_init_ref() })
}

/// `recv` with `MSG_PEEK`: the data stays queued. Retries `EINTR`.
pub(crate) fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
        match cvt_size(n) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::mem::MaybeUninit;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    /// `gather` lays the buffers end to end, skipping empty ones.
    #[test]
    fn gather_concatenates_in_order() {
        use std::io::IoSlice;
        let parts: [&[u8]; 5] = [b"HTTP/1.1 200 OK\r\n", b"", b"\r\n", b"hello", b""];
        let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut out = [MaybeUninit::<u8>::uninit(); 64];
        assert_eq!(
            super::gather(&bufs, &mut out),
            b"HTTP/1.1 200 OK\r\n\r\nhello"
        );
        assert_eq!(super::gather(&[], &mut out), b"");
    }

    /// Every path of `send_vectored` (one buffer among empty ones, several
    /// gathered, more than `GATHER_MAX` through `sendmsg`, none at all)
    /// delivers exactly the concatenation of its buffers.
    #[test]
    #[cfg_attr(miri, ignore = "miri's socketpair does not implement send (ENOTSOCK)")]
    fn send_vectored_delivers_the_concatenation_on_every_path() {
        use std::io::{IoSlice, Read};
        let (a, mut b) = UnixStream::pair().unwrap();
        let big: Vec<u8> = (0..super::GATHER_MAX + 100)
            .map(|i| (i % 251) as u8)
            .collect();
        let cases: [Vec<&[u8]>; 5] = [
            vec![b"", b"only", b""],
            vec![b"head ", b"", b"body"],
            vec![&big[..10], &big[10..super::GATHER_MAX]],
            vec![&big[..100], &big[100..]],
            vec![b"", b""],
        ];
        for parts in cases {
            let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let expected = parts.concat();
            let n = super::send_vectored(a.as_fd(), &bufs).unwrap();
            assert_eq!(n, expected.len());
            let mut got = vec![0; n];
            b.read_exact(&mut got).unwrap();
            assert_eq!(got, expected);
        }
    }

    /// `recv_uninit` fills never-initialised memory and reports how much.
    #[test]
    #[cfg_attr(miri, ignore = "miri's socketpair does not implement recv (ENOTSOCK)")]
    fn recv_uninit_reads_into_uninitialised_memory() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"hello").unwrap();
        let mut buf: Vec<u8> = Vec::with_capacity(16);
        let n = super::recv_uninit(b.as_fd(), buf.spare_capacity_mut()).unwrap();
        assert_eq!(n, 5);
        // SAFETY: `recv_uninit` initialised the first `n` spare bytes.
        unsafe { buf.set_len(n) };
        assert_eq!(buf, b"hello");
        // A short read leaves the rest of the spare capacity alone, and a
        // closed peer reads as 0.
        drop(a);
        let mut rest = [MaybeUninit::<u8>::uninit(); 4];
        assert_eq!(super::recv_uninit(b.as_fd(), &mut rest).unwrap(), 0);
    }
}
