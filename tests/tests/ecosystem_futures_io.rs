//! `futures-io` interop (cargo feature `futures-io`): code written against
//! `futures::io::{AsyncRead, AsyncWrite}` — `AsyncReadExt`/`AsyncWriteExt`,
//! `futures::io::copy`, `BufReader` + `lines()` — runs on our sockets and
//! their halves unchanged.

mod ecosystem_support;

use ecosystem_support::{current, listener, multi, pattern, run_bounded, socket_pair};
use futures::io::{copy, BufReader};
use futures::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, StreamExt, TryStreamExt};
use runtime::net::TcpStream;
use std::io::IoSlice;

/// `write_all` + `close` on one side, `read_to_end` on the other, both ways:
/// every byte arrives, and `close` (FIN) is seen as end of stream.
#[test]
fn read_write_ext_round_trip() {
    let rt = multi(2);
    run_bounded(&rt, "round trip", async {
        let (mut client, mut server) = socket_pair().await;
        let request = pattern(256 * 1024, 1);
        let response = pattern(300 * 1024, 2);
        let expected_request = request.clone();
        let reply = response.clone();
        let server_task = runtime::spawn(async move {
            let mut got = Vec::new();
            AsyncReadExt::read_to_end(&mut server, &mut got)
                .await
                .unwrap();
            assert_eq!(got.len(), expected_request.len());
            assert!(got == expected_request, "request corrupted");
            AsyncWriteExt::write_all(&mut server, &reply).await.unwrap();
            AsyncWriteExt::close(&mut server).await.unwrap();
        });
        AsyncWriteExt::write_all(&mut client, &request)
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut client).await.unwrap();
        // Half-close: we can still read after closing our write direction.
        AsyncWriteExt::close(&mut client).await.unwrap();
        let mut got = Vec::new();
        AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        assert!(got == response, "response corrupted ({} bytes)", got.len());
        server_task.await.unwrap();
    });
}

/// A length-prefixed framing codec written with `read_exact`, `take` and
/// `write_all` over `futures-io`, on the borrowed halves of `split()`.
#[test]
fn length_prefixed_frames_on_borrowed_halves() {
    let rt = multi(2);
    run_bounded(&rt, "frames", async {
        let (mut client, mut server) = socket_pair().await;
        let frames: Vec<Vec<u8>> = (0..50)
            .map(|i| pattern(i * 997 + 1, i as u64 + 7))
            .collect();
        let to_send = frames.clone();
        let writer = runtime::spawn(async move {
            // Fully qualified: with `AsyncReadExt` in scope, `server.split()`
            // would pick futures' by-value, lock-based `split` instead.
            let (_r, mut w) = TcpStream::split(&mut server);
            for f in &to_send {
                w.write_all(&(f.len() as u32).to_be_bytes()).await.unwrap();
                w.write_all(f).await.unwrap();
            }
            AsyncWriteExt::close(&mut w).await.unwrap();
        });
        let (mut r, _w) = TcpStream::split(&mut client);
        let mut received = Vec::new();
        loop {
            let mut len = [0u8; 4];
            match AsyncReadExt::read_exact(&mut r, &mut len).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => panic!("read length: {e}"),
            }
            let len = u32::from_be_bytes(len) as u64;
            let mut body = Vec::new();
            (&mut r).take(len).read_to_end(&mut body).await.unwrap();
            assert_eq!(body.len() as u64, len, "short frame");
            received.push(body);
        }
        assert_eq!(received, frames);
        writer.await.unwrap();
    });
}

/// `futures::io::copy` relays between two of our sockets in both directions
/// at once (the owned halves, so each direction is its own task), and the
/// half-close is propagated with `close()`.
#[test]
fn futures_io_copy_relay_both_directions() {
    let rt = multi(4);
    run_bounded(&rt, "copy relay", async {
        // client <-> [relay_front | relay_back] <-> upstream
        let (client, relay_front) = socket_pair().await;
        let (relay_back, upstream) = socket_pair().await;
        let (front_r, mut front_w) = relay_front.into_split();
        let (back_r, mut back_w) = relay_back.into_split();
        let up = runtime::spawn(async move {
            let mut front_r = front_r;
            let n = copy(&mut front_r, &mut back_w).await.unwrap();
            back_w.close().await.unwrap();
            n
        });
        let down = runtime::spawn(async move {
            let mut back_r = back_r;
            let n = copy(&mut back_r, &mut front_w).await.unwrap();
            front_w.close().await.unwrap();
            n
        });

        let upload = pattern(2 * 1024 * 1024 + 17, 3);
        let download = pattern(3 * 1024 * 1024 + 5, 4);
        let (expect_up, reply) = (upload.clone(), download.clone());
        // Upstream: reads everything (until the relayed FIN), then replies.
        let upstream_task = runtime::spawn(async move {
            let mut upstream = upstream;
            let mut got = Vec::new();
            upstream.read_to_end(&mut got).await.unwrap();
            assert!(got == expect_up, "upload corrupted ({} bytes)", got.len());
            upstream.write_all(&reply).await.unwrap();
            upstream.close().await.unwrap();
        });
        let (mut cr, mut cw) = client.into_split();
        let send = async move {
            cw.write_all(&upload).await.unwrap();
            cw.close().await.unwrap();
        };
        let recv = async move {
            let mut got = Vec::new();
            cr.read_to_end(&mut got).await.unwrap();
            got
        };
        let ((), got) = futures::join!(send, recv);
        assert!(got == download, "download corrupted ({} bytes)", got.len());
        assert_eq!(up.await.unwrap(), 2 * 1024 * 1024 + 17);
        assert_eq!(down.await.unwrap(), 3 * 1024 * 1024 + 5);
        upstream_task.await.unwrap();
    });
}

/// The same copy on the current-thread flavour: everything on one thread.
#[test]
fn futures_io_copy_on_current_thread() {
    let rt = current();
    run_bounded(&rt, "copy current-thread", async {
        let (mut a, mut b) = socket_pair().await;
        let data = pattern(1024 * 1024, 5);
        let sent = data.clone();
        let writer = runtime::spawn(async move {
            let mut src = futures::io::Cursor::new(sent);
            let n = copy(&mut src, &mut a).await.unwrap();
            a.close().await.unwrap();
            n
        });
        let mut sink = futures::io::Cursor::new(Vec::new());
        let n = copy(&mut b, &mut sink).await.unwrap();
        assert_eq!(n, data.len() as u64);
        assert!(sink.into_inner() == data);
        assert_eq!(writer.await.unwrap(), data.len() as u64);
    });
}

/// A codec-style line reader: `BufReader` + `lines()` over a socket whose
/// peer writes lines cut at arbitrary points (mid-line, mid-CRLF).
#[test]
fn buf_reader_lines_codec() {
    let rt = multi(2);
    run_bounded(&rt, "lines", async {
        let (client, mut server) = socket_pair().await;
        let lines: Vec<String> = (0..500)
            .map(|i| format!("line {i}: {}", "x".repeat(i % 97)))
            .collect();
        let mut wire = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            wire.extend_from_slice(l.as_bytes());
            // Mix LF and CRLF endings: `lines()` strips both.
            wire.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let writer = runtime::spawn(async move {
            let mut rest = &wire[..];
            let mut cut = 1;
            while !rest.is_empty() {
                let n = cut.min(rest.len());
                server.write_all(&rest[..n]).await.unwrap();
                rest = &rest[n..];
                cut = cut * 7 % 113 + 1;
                if cut % 5 == 0 {
                    // Let the reader see a partial line.
                    runtime::task::yield_now().await;
                }
            }
            server.close().await.unwrap();
        });
        let got: Vec<String> = BufReader::new(client).lines().try_collect().await.unwrap();
        assert_eq!(got, lines);
        writer.await.unwrap();
    });
}

/// `read_line` / `read_until` (AsyncBufReadExt) on an owned read half, while
/// the owned write half answers each request: a line-based request/response
/// protocol.
#[test]
fn line_protocol_request_response() {
    let rt = multi(2);
    run_bounded(&rt, "line protocol", async {
        let (l, addr) = listener().await;
        let server = runtime::spawn(async move {
            let (stream, _) = l.accept().await.unwrap();
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Some(line) = lines.next().await {
                let line = line.unwrap();
                let reply = format!("{}\n", line.to_uppercase());
                w.write_all(reply.as_bytes()).await.unwrap();
            }
            w.close().await.unwrap();
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut reader = BufReader::new(r);
        for i in 0..100 {
            let msg = format!("request number {i}\n");
            w.write_all(msg.as_bytes()).await.unwrap();
            let mut reply = String::new();
            reader.read_line(&mut reply).await.unwrap();
            assert_eq!(reply, msg.to_uppercase());
        }
        w.close().await.unwrap();
        let mut rest = Vec::new();
        reader.read_until(b'\n', &mut rest).await.unwrap();
        assert!(rest.is_empty(), "expected end of stream, got {rest:?}");
        server.await.unwrap();
    });
}

/// `write_vectored` through `AsyncWriteExt` (our `poll_write_vectored`), and
/// `futures`' own `AsyncReadExt::split` (a lock-based split) on a stream.
#[test]
fn vectored_writes_and_futures_split() {
    let rt = multi(2);
    run_bounded(&rt, "vectored + split", async {
        let (client, server) = socket_pair().await;
        let (mut r, mut w) = AsyncReadExt::split(server);
        let echo = runtime::spawn(async move {
            let n = copy(&mut r, &mut w).await.unwrap();
            w.close().await.unwrap();
            n
        });
        let (mut cr, mut cw) = client.into_split();
        let parts: [&[u8]; 3] = [b"alpha-", b"beta-", b"gamma"];
        let mut expected = Vec::new();
        for _ in 0..200 {
            let mut slices = [
                IoSlice::new(parts[0]),
                IoSlice::new(parts[1]),
                IoSlice::new(parts[2]),
            ];
            let mut bufs = &mut slices[..];
            while !bufs.is_empty() {
                let n = cw.write_vectored(bufs).await.unwrap();
                assert!(n > 0);
                IoSlice::advance_slices(&mut bufs, n);
            }
            expected.extend_from_slice(b"alpha-beta-gamma");
        }
        cw.close().await.unwrap();
        let mut got = Vec::new();
        cr.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, expected);
        assert_eq!(echo.await.unwrap(), expected.len() as u64);
    });
}
