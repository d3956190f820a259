//! # chat: a broadcast chat room for `nc` clients
//!
//! What it teaches: how tasks share state and talk to each other.
//!
//! * Each connection is split with `into_split()` into an **owned read half**
//!   and an **owned write half**, driven by two tasks: the reader task parses
//!   lines and broadcasts them; the writer task is the only one that writes
//!   to the socket.
//! * Each client has **its own channel** (an `async_channel::bounded` queue —
//!   an executor-agnostic crate that runs unchanged on our runtime). To
//!   broadcast, the sender's reader task pushes the line into every other
//!   client's queue; each writer task drains its own queue into its socket.
//!   A slow client only fills its own queue: once full, messages *for that
//!   client* are dropped, and nobody else waits for it.
//! * The room (who is online) is a plain `std::sync::Mutex<HashMap>`: it is
//!   never held across an `.await`, so a blocking mutex is the right tool.
//! * Lines are cut from the byte stream by hand (`LineReader`), with a limit
//!   on their length.
//!
//! ```text
//! cargo run --example chat                  # serve on 127.0.0.1:7001
//! cargo run --example chat -- 9001          # ... or on another port
//! cargo run --example chat -- --self-test   # port 0, three clients chat, exit 0
//! nc 127.0.0.1 7001                         # in two or more terminals; type
//! ```

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};

/// Messages that may wait for one slow client before we drop its messages.
const CLIENT_QUEUE: usize = 128;
/// Longest line a client may send.
const MAX_LINE: usize = 4096;

type Outbox = async_channel::Sender<Arc<str>>;

/// Who is in the room: client id → that client's outgoing queue.
#[derive(Default)]
struct Room {
    clients: Mutex<HashMap<u64, Outbox>>,
    next_id: AtomicU64,
}

impl Room {
    /// Sends `msg` to everyone except `from`. Never waits: a full queue means
    /// that client is too slow, and it misses this message.
    fn broadcast(&self, from: u64, msg: &str) {
        let msg: Arc<str> = Arc::from(msg);
        let clients = self.clients.lock().unwrap();
        for (&id, outbox) in clients.iter() {
            if id != from {
                let _ = outbox.try_send(msg.clone());
            }
        }
    }
}

async fn serve(listener: TcpListener) -> io::Result<()> {
    let room = Arc::new(Room::default());
    loop {
        let (stream, _peer) = listener.accept().await?;
        runtime::spawn(client(room.clone(), stream));
    }
}

/// One client: registers in the room, starts its writer task, then reads and
/// broadcasts lines until the client leaves.
async fn client(room: Arc<Room>, stream: TcpStream) {
    let id = room.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!("guest{id}");
    let (outbox, inbox) = async_channel::bounded(CLIENT_QUEUE);
    {
        let mut clients = room.clients.lock().unwrap();
        clients.insert(id, outbox.clone());
        // Queued while we hold the room, so the welcome comes first.
        let welcome = format!("* welcome, you are {name}; {} online\n", clients.len());
        let _ = outbox.try_send(Arc::from(welcome));
    }
    room.broadcast(id, &format!("* {name} joined\n"));

    let (read_half, write_half) = stream.into_split();
    let writer = runtime::spawn(writer(inbox, write_half));
    let mut lines = LineReader::new(read_half);
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line == "/quit" => break,
            Ok(Some(line)) => room.broadcast(id, &format!("{name}: {line}\n")),
            Ok(None) | Err(_) => break, // hung up, reset, or line too long
        }
    }
    room.clients.lock().unwrap().remove(&id);
    room.broadcast(id, &format!("* {name} left\n"));
    // The room dropped its sender; ours is the last one. Dropping it lets the
    // writer drain what is queued, then see the channel closed and finish.
    drop(outbox);
    let _ = writer.await;
}

/// Drains this client's queue into its socket; sends FIN at the end.
async fn writer(inbox: async_channel::Receiver<Arc<str>>, mut socket: OwnedWriteHalf) {
    while let Ok(msg) = inbox.recv().await {
        if socket.write_all(msg.as_bytes()).await.is_err() {
            return; // the client is gone; its reader will notice too
        }
    }
    let _ = socket.shutdown();
}

/// Cuts a byte stream into lines (without `\n` or `\r\n`).
struct LineReader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
}

impl LineReader {
    fn new(half: OwnedReadHalf) -> Self {
        LineReader {
            half,
            buf: Vec::new(),
            scanned: 0,
        }
    }

    /// The next line; `None` at end of stream (a final unterminated line is
    /// returned first). Invalid UTF-8 is replaced, not rejected.
    async fn next_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + pos;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop(); // '\n'
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.scanned = 0;
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let mut chunk = [0u8; 1024];
            let n = self.half.read(&mut chunk).await?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buf);
                self.scanned = 0;
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
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
                "usage: chat [PORT | --self-test]",
            )
        })?,
    };
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "chat: listening on {} (try: nc {0})",
            listener.local_addr()?
        );
        println!("chat: lines are broadcast to everyone else; /quit leaves");
        serve(listener).await
    })
}

/// A test client: the write half and a line reader on the read half.
struct TestClient {
    lines: LineReader,
    write: OwnedWriteHalf,
}

impl TestClient {
    async fn connect(addr: SocketAddr) -> io::Result<TestClient> {
        let (r, write) = TcpStream::connect(addr).await?.into_split();
        Ok(TestClient {
            lines: LineReader::new(r),
            write,
        })
    }

    async fn say(&mut self, line: &str) -> io::Result<()> {
        self.write.write_all(format!("{line}\n").as_bytes()).await
    }

    /// Reads the next line and checks it.
    async fn expect(&mut self, who: &str, want: &str) -> io::Result<()> {
        let next = runtime::time::timeout(Duration::from_secs(10), self.lines.next_line()).await;
        match next {
            Ok(Ok(Some(line))) if line == want => Ok(()),
            other => Err(io::Error::other(format!(
                "{who}: expected {want:?}, got {other:?}"
            ))),
        }
    }
}

/// Three clients join, chat and leave; each sees exactly the messages of
/// the others, in order, and never its own.
fn self_test() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    let test = async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        runtime::spawn(serve(listener));

        let mut a = TestClient::connect(addr).await?;
        a.expect("a", "* welcome, you are guest1; 1 online").await?;
        let mut b = TestClient::connect(addr).await?;
        b.expect("b", "* welcome, you are guest2; 2 online").await?;
        a.expect("a", "* guest2 joined").await?;
        let mut c = TestClient::connect(addr).await?;
        c.expect("c", "* welcome, you are guest3; 3 online").await?;
        a.expect("a", "* guest3 joined").await?;
        b.expect("b", "* guest3 joined").await?;

        a.say("hello everyone").await?;
        b.expect("b", "guest1: hello everyone").await?;
        c.expect("c", "guest1: hello everyone").await?;
        // a's next line is b's message, so a did not get its own.
        b.say("hi guest1").await?;
        a.expect("a", "guest2: hi guest1").await?;
        c.expect("c", "guest2: hi guest1").await?;

        // c says goodbye without a trailing newline, then hangs up (FIN).
        c.write.write_all(b"bye\r\n/quit").await?;
        c.write.shutdown()?;
        for (who, client) in [("a", &mut a), ("b", &mut b)] {
            client.expect(who, "guest3: bye").await?;
            client.expect(who, "* guest3 left").await?;
        }
        // The server closes c's connection after draining its queue.
        match runtime::time::timeout(Duration::from_secs(10), c.lines.next_line()).await? {
            Ok(None) => {}
            other => return Err(io::Error::other(format!("c: expected EOF, got {other:?}"))),
        }
        Ok::<_, io::Error>(())
    };
    rt.block_on(runtime::time::timeout(Duration::from_secs(30), test))??;
    println!("chat: self-test passed");
    Ok(())
}
