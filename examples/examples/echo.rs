//! # echo: the smallest TCP server on the runtime
//!
//! What it teaches: the shape of every server built on `runtime` —
//!
//! * a [`runtime::Runtime`] whose `block_on` runs the accept loop;
//! * `TcpListener::bind` + `accept().await` in a loop;
//! * one `runtime::spawn`ed task per connection, which owns its socket and
//!   loops `read` → `write_all` until the peer closes (`read` returns 0).
//!
//! Each task is a small state machine; thousands of idle connections cost a
//! few hundred bytes each, not a thread each.
//!
//! ```text
//! cargo run --example echo                  # serve on 127.0.0.1:7000
//! cargo run --example echo -- 9000          # ... or on another port
//! cargo run --example echo -- --self-test   # port 0, drive it with clients, exit 0
//! nc 127.0.0.1 7000                         # then type; every line comes back
//! ```

use std::io;
use std::net::SocketAddr;

use runtime::net::{TcpListener, TcpStream};

/// Accepts connections forever, one task each.
async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        runtime::spawn(echo(stream));
    }
}

/// Copies everything the peer sends back to it until it hangs up.
async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return, // end of stream, or the peer reset
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg {
        None => 7000,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: echo [PORT | --self-test]",
            )
        })?,
    };
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("echo: listening on {}", listener.local_addr()?);
        serve(listener).await
    })
}

/// Starts the server on an ephemeral port and checks, with 50 concurrent
/// clients sending different data, that every byte comes back in order.
fn self_test() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        runtime::spawn(serve(listener));
        let clients: Vec<_> = (0..50u8).map(|i| runtime::spawn(client(addr, i))).collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        Ok::<_, io::Error>(())
    })?;
    println!("echo: self-test passed");
    Ok(())
}

async fn client(addr: SocketAddr, i: u8) -> io::Result<()> {
    let check = async {
        let sent: Vec<u8> = (0..64 * 1024).map(|n| (n as u8) ^ i).collect();
        let (mut r, mut w) = TcpStream::connect(addr).await?.into_split();
        // Write from another task while this one reads: a large message
        // would otherwise fill both socket buffers and deadlock the echo.
        let data = sent.clone();
        let writer = runtime::spawn(async move {
            w.write_all(&data).await?;
            w.shutdown() // FIN: the server's read returns 0 and it hangs up
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf).await? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        writer.await.map_err(io::Error::other)??;
        if got != sent {
            return Err(io::Error::other(format!("client {i}: echo differs")));
        }
        Ok(())
    };
    runtime::time::timeout(std::time::Duration::from_secs(30), check).await?
}
