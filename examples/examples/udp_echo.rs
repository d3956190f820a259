//! # udp_echo: datagrams on the runtime
//!
//! What it teaches: `runtime::net::UdpSocket` —
//!
//! * one socket serves every client: `recv_from` says who sent a datagram,
//!   `send_to` answers that address;
//! * every method takes `&self`, so several tasks can share one socket
//!   through an `Arc` (here: four server tasks receive on the same socket,
//!   and the reactor wakes all of them when a datagram arrives);
//! * datagrams keep their boundaries: one `send_to` is one `recv_from`.
//!
//! ```text
//! cargo run --example udp_echo                  # serve on 127.0.0.1:7001
//! cargo run --example udp_echo -- --self-test   # port 0, 20 clients, exit 0
//! nc -u 127.0.0.1 7001                          # then type; lines come back
//! ```

use std::io;
use std::sync::Arc;

use runtime::net::UdpSocket;

/// Server tasks sharing the one socket.
const SERVER_TASKS: usize = 4;

/// Echoes every datagram back to its sender, forever.
async fn serve(socket: Arc<UdpSocket>) -> io::Result<()> {
    // 64 KiB holds any UDP datagram: nothing is cut off.
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..n], from).await?;
    }
}

fn start(socket: UdpSocket) -> Arc<UdpSocket> {
    let socket = Arc::new(socket);
    for _ in 0..SERVER_TASKS {
        let s = socket.clone();
        runtime::spawn(async move {
            if let Err(e) = serve(s).await {
                eprintln!("udp_echo: {e}");
            }
        });
    }
    socket
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg {
        None => 7001,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: udp_echo [PORT | --self-test]",
            )
        })?,
    };
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let socket = UdpSocket::bind(("127.0.0.1", port)).await?;
        println!("udp_echo: listening on {}", socket.local_addr()?);
        let socket = Arc::new(socket);
        serve(socket).await
    })
}

/// Starts the server on an ephemeral port; 20 clients each send 50
/// numbered datagrams one at a time and check every reply.
fn self_test() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let server = start(UdpSocket::bind("127.0.0.1:0").await?);
        let addr = server.local_addr()?;
        let clients: Vec<_> = (0..20u32)
            .map(|c| {
                runtime::spawn(async move {
                    let sock = UdpSocket::bind("127.0.0.1:0").await?;
                    sock.connect(addr).await?;
                    let mut buf = [0u8; 64];
                    for i in 0..50u32 {
                        let msg = format!("client {c} datagram {i}");
                        sock.send(msg.as_bytes()).await?;
                        // Loopback does not drop datagrams under this load;
                        // a lost one shows as a hang, caught by the test's
                        // time limit.
                        let n = sock.recv(&mut buf).await?;
                        if &buf[..n] != msg.as_bytes() {
                            return Err(io::Error::other(format!(
                                "client {c}: sent {msg:?}, got {:?}",
                                String::from_utf8_lossy(&buf[..n])
                            )));
                        }
                    }
                    Ok::<(), io::Error>(())
                })
            })
            .collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        println!("udp_echo: self-test passed");
        Ok(())
    })
}
