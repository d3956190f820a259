//! # blocking_server: the reverse server, one thread per connection
//!
//! What it teaches: the simplest correct design, and the baseline the rest of
//! the book improves on. Every connection gets its own OS thread, which blocks
//! in `read` until bytes arrive and in `write` until the client takes them.
//! No epoll, no non-blocking sockets, no state machines: the thread's stack
//! *is* the connection's state. The cost is one thread (and its stack) per
//! connection, and a context switch for every wake-up.
//!
//! It speaks the `line` framing of the reverse protocol: each line comes back
//! reversed, `exit` closes, an overlong line gets an error.
//!
//! ```text
//! cargo run --example blocking_server -- 9090          # serve on 127.0.0.1:9090
//! cargo run --example blocking_server -- --self-test   # port 0, check with clients, exit 0
//! ```

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Longest line (content, without terminator) a connection may send.
const MAX_LINE: usize = 64 * 1024;

// ANCHOR: accept_loop
/// Accepts forever; each connection gets a thread of its own.
fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = handle(stream) {
                        eprintln!("blocking_server: {e}");
                    }
                });
            }
            // EMFILE and friends: say so and keep accepting. A real server
            // would pause here, or this loop spins while the limit lasts.
            Err(e) => eprintln!("blocking_server: accept: {e}"),
        }
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: handle
/// Serves one connection until `exit`, end of input, or an error.
fn handle(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Read up to and including the next '\n', but never buffer more than
        // MAX_LINE + 2 bytes ("+ 2" leaves room for "\r\n").
        let limit = (MAX_LINE + 2) as u64;
        let n = (&mut reader).take(limit).read_until(b'\n', &mut line)?;
        if n == 0 {
            break; // end of input, nothing pending
        }
        let (content, terminator) = split_terminator(&line);
        if content.len() > MAX_LINE || (terminator.is_empty() && n as u64 == limit) {
            writeln!(writer, "error: line longer than {MAX_LINE} bytes")?;
            break;
        }
        if content == b"exit" && !terminator.is_empty() {
            break;
        }
        writer.write_all(&reverse(content))?;
        writer.write_all(terminator)?;
        // Flush only when the client has nothing more for us right now, so a
        // pipelined burst of lines is answered with few large writes.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
    writer.flush()?;
    // Returning drops both halves, which closes the socket.
    Ok(())
}
// ANCHOR_END: handle

/// Splits a line into its content and its terminator (`\n`, `\r\n` or none).
fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    if let Some(rest) = line.strip_suffix(b"\r\n") {
        (rest, b"\r\n")
    } else if let Some(rest) = line.strip_suffix(b"\n") {
        (rest, b"\n")
    } else {
        (line, b"")
    }
}

/// Reverses the characters of valid UTF-8, or else the bytes.
fn reverse(content: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(content) {
        Ok(s) => s.chars().rev().collect::<String>().into_bytes(),
        Err(_) => content.iter().rev().copied().collect(),
    }
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg.as_deref() {
        None => 9090,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: blocking_server [PORT | --self-test]",
            )
        })?,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("blocking_server: listening on {}", listener.local_addr()?);
    serve(listener);
    Ok(())
}

/// Starts the server on port 0 and checks its answers with real clients.
fn self_test() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || serve(listener));

    let connect = || -> io::Result<TcpStream> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(s)
    };

    // Lines, CRLF, UTF-8, empty line; then exit closes without a reply.
    let mut s = connect()?;
    s.write_all(b"hello\nab\r\nh\xc3\xa9llo\n\nexit\nignored\n")?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    assert_eq!(all, "olleh\nba\r\nolléh\n\n");

    // Half-close: the unterminated tail is answered without a terminator.
    let mut s = connect()?;
    s.write_all(b"one\ntwo")?;
    s.shutdown(Shutdown::Write)?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    assert_eq!(all, "eno\nowt");

    // Many clients at once, pipelining.
    let clients: Vec<_> = (0..16)
        .map(|c| {
            thread::spawn(move || -> io::Result<()> {
                let s = TcpStream::connect(addr)?;
                let mut w = s.try_clone()?;
                let writer = thread::spawn(move || -> io::Result<()> {
                    for i in 0..500 {
                        writeln!(w, "{c}:{i}")?;
                    }
                    w.shutdown(Shutdown::Write)
                });
                let mut r = BufReader::new(s);
                for i in 0..500 {
                    let mut got = String::new();
                    r.read_line(&mut got)?;
                    let want: String = format!("{c}:{i}").chars().rev().collect();
                    assert_eq!(got, want + "\n");
                }
                writer.join().unwrap()
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap()?;
    }

    // An overlong line gets the error and the connection closes.
    let mut s = connect()?;
    let mut long = vec![b'x'; MAX_LINE + 1];
    long.push(b'\n');
    let _ = s.write_all(&long);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert_eq!(
        got,
        format!("error: line longer than {MAX_LINE} bytes\n").as_bytes()
    );

    println!("blocking_server: self-test passed");
    Ok(())
}
