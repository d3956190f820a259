//! # unix_echo: a Unix-domain socket server and its clients
//!
//! What it teaches: `runtime::net::{UnixListener, UnixStream}` —
//!
//! * the same shape as the TCP `echo` example, with a socket *file* instead
//!   of a port: `UnixListener::bind(path)`, `accept().await` in a loop, one
//!   task per connection;
//! * the file outlives the listener: remove a stale one before binding, and
//!   yours when done;
//! * `peer_cred()` tells the server which process (pid, uid, gid) connected,
//!   a common way to authorise local clients;
//! * on Linux, an *abstract* name (`@name` here, as `ss -x` prints them)
//!   needs no file at all: `UnixListener::bind_addr` and
//!   `UnixStream::connect_addr` take std's `SocketAddr`, made with
//!   `SocketAddrExt::from_abstract_name`; it vanishes with the listener.
//!
//! ```text
//! cargo run --example unix_echo -- /tmp/echo.sock     # serve on that path
//! cargo run --example unix_echo -- @echo              # serve on the abstract name "echo"
//! cargo run --example unix_echo -- --self-test        # temp path and an abstract name, exit 0
//! nc -U /tmp/echo.sock                                # then type; lines come back
//! socat - ABSTRACT-CONNECT:echo                       # the same for the abstract name
//! ```

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use runtime::net::{UnixListener, UnixStream};

/// Accepts connections forever, one task each.
async fn serve(listener: UnixListener) -> io::Result<()> {
    loop {
        let (stream, _addr) = listener.accept().await?;
        if let Ok(cred) = stream.peer_cred() {
            eprintln!("unix_echo: client pid {:?} uid {}", cred.pid(), cred.uid());
        }
        runtime::spawn(echo(stream));
    }
}

/// Copies everything the peer sends back until it hangs up.
async fn echo(mut stream: UnixStream) {
    let mut buf = vec![0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One client: sends `msg`, half-closes, reads the echo to end of stream.
async fn client(addr: SocketAddr, msg: Vec<u8>) -> io::Result<()> {
    let stream = UnixStream::connect_addr(&addr).await?;
    let (mut r, mut w) = stream.into_split();
    let writer = runtime::spawn(async move {
        w.write_all(&msg).await?;
        // Dropping the write half sends end of stream: the server's read
        // returns 0, it closes, and our read below ends too.
        drop(w);
        Ok::<_, io::Error>(msg)
    });
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await? {
            0 => break,
            n => back.extend_from_slice(&buf[..n]),
        }
    }
    let msg = writer.await.map_err(io::Error::other)??;
    if back != msg {
        return Err(io::Error::other("echo differs from what was sent"));
    }
    Ok(())
}

fn bind_fresh(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixListener::bind(path)
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let Some(arg) = arg else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: unix_echo PATH | @ABSTRACT_NAME | --self-test",
        ));
    };
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = match arg.strip_prefix('@') {
            Some(name) => UnixListener::bind_addr(&SocketAddr::from_abstract_name(name)?)?,
            None => bind_fresh(Path::new(&arg))?,
        };
        println!("unix_echo: listening on {arg}");
        serve(listener).await
    })
}

/// Serves on a temporary path and on an abstract name; 10 clients each echo
/// 64 KiB through the file, 2 more through the name.
fn self_test() -> io::Result<()> {
    let path = std::env::temp_dir().join(format!("unix_echo-{}.sock", std::process::id()));
    let name = format!("unix_echo-{}", std::process::id());
    let rt = runtime::Runtime::new()?;
    let result = rt.block_on(async {
        runtime::spawn(serve(bind_fresh(&path)?));
        let by_name = SocketAddr::from_abstract_name(&name)?;
        runtime::spawn(serve(UnixListener::bind_addr(&by_name)?));
        let by_path = SocketAddr::from_pathname(&path)?;
        let clients: Vec<_> = (0..12u8)
            .map(|i| {
                let msg: Vec<u8> = (0..65536u32).map(|j| (j as u8) ^ i).collect();
                let addr = if i < 10 { &by_path } else { &by_name };
                runtime::spawn(client(addr.clone(), msg))
            })
            .collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        Ok::<(), io::Error>(())
    });
    let _ = std::fs::remove_file(&path);
    result?;
    println!("unix_echo: self-test passed");
    Ok(())
}
