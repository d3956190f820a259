//! # local_counter: `!Send` state shared by tasks, without locks
//!
//! What it teaches: `runtime::task::LocalSet` and `spawn_local` —
//!
//! * every connection is a local task; they all share one
//!   `Rc<RefCell<HashMap>>` of word counts: no `Arc`, no `Mutex`, because
//!   local tasks all run on the thread that drives the set;
//! * a `RefCell` borrow must not be held across an `.await` (another task on
//!   the same thread could then find it borrowed): each request borrows,
//!   updates and lets go before writing the reply;
//! * the set runs inside `block_on`, interleaved with the runtime's own
//!   work (the reactor wakes local tasks like any other).
//!
//! Protocol: the client sends one word per line; the server answers with how
//! many times that word has been seen, by every client.
//!
//! ```text
//! cargo run --example local_counter                  # serve on 127.0.0.1:7003
//! cargo run --example local_counter -- --self-test   # port 0, 8 clients, exit 0
//! nc 127.0.0.1 7003                                  # then type words
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::rc::Rc;

use runtime::net::{TcpListener, TcpStream};
use runtime::task::{spawn_local, LocalSet};

type Counts = Rc<RefCell<HashMap<String, u64>>>;

/// Longest line accepted: a client cannot make the server buffer forever.
const MAX_LINE: usize = 1024;

/// Serves one connection until the client closes it.
async fn serve(mut stream: TcpStream, counts: Counts) -> io::Result<()> {
    let mut pending = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let word = String::from_utf8_lossy(&line).trim().to_string();
            let seen = {
                // Borrowed and released before the next `.await`.
                let mut counts = counts.borrow_mut();
                let n = counts.entry(word).or_insert(0);
                *n += 1;
                *n
            };
            stream.write_all(format!("{seen}\n").as_bytes()).await?;
        }
        if pending.len() > MAX_LINE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
    }
}

/// Accepts forever, one local task per connection.
async fn accept_loop(listener: TcpListener, counts: Counts) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        let counts = Rc::clone(&counts);
        spawn_local(async move {
            if let Err(e) = serve(stream, counts).await {
                eprintln!("local_counter: {e}");
            }
        });
    }
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg {
        None => 7003,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: local_counter [PORT | --self-test]",
            )
        })?,
    };
    // One thread is all a LocalSet uses; the current-thread flavour fits.
    let rt = runtime::Builder::new_current_thread().build()?;
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("local_counter: listening on {}", listener.local_addr()?);
        accept_loop(listener, Counts::default()).await
    })
}

/// Sends `word` and returns the count the server answers.
async fn ask(stream: &mut TcpStream, word: &str) -> io::Result<u64> {
    stream.write_all(format!("{word}\n").as_bytes()).await?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while reply.last() != Some(&b'\n') {
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        reply.push(byte[0]);
    }
    String::from_utf8_lossy(&reply)
        .trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("reply {reply:?}: {e}")))
}

/// Starts the server on an ephemeral port; 8 clients (also local tasks)
/// each send "apple" 25 times and their own word once; then the shared count
/// of "apple" must be 8 × 25 and every client's own word 1.
fn self_test() -> io::Result<()> {
    const CLIENTS: u64 = 8;
    const ROUNDS: u64 = 25;
    let rt = runtime::Runtime::new()?;
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Counts::default();
        let server = spawn_local(accept_loop(listener, Rc::clone(&counts)));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                spawn_local(async move {
                    let mut stream = TcpStream::connect(addr).await?;
                    let mut last = 0;
                    for _ in 0..ROUNDS {
                        let seen = ask(&mut stream, "apple").await?;
                        if seen <= last {
                            return Err(io::Error::other(format!(
                                "client {c}: count went from {last} to {seen}"
                            )));
                        }
                        last = seen;
                    }
                    let own = ask(&mut stream, &format!("client-{c}")).await?;
                    if own != 1 {
                        return Err(io::Error::other(format!(
                            "client {c}: own word seen {own} times"
                        )));
                    }
                    Ok(())
                })
            })
            .collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        let apples = counts.borrow().get("apple").copied();
        if apples != Some(CLIENTS * ROUNDS) {
            return Err(io::Error::other(format!("apple counted {apples:?} times")));
        }
        server.abort();
        if !server.await.is_err_and(|e| e.is_cancelled()) {
            return Err(io::Error::other("the accept loop did not stop on abort"));
        }
        println!("local_counter: self-test passed");
        Ok(())
    })
}
