//! `futures` combinators on our runtime: `join!`, `select!`,
//! `FuturesUnordered`, `join_all`, `buffer_unordered`, `Abortable` — driving
//! our sockets, timers and `JoinHandle`s.

mod ecosystem_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecosystem_support::{current, listener, multi, pattern, run_bounded, socket_pair};
use futures::future::{self, AbortHandle, Abortable, Aborted, FutureExt};
use futures::stream::{self, FuturesUnordered, StreamExt};
use runtime::net::TcpStream;
use runtime::time::sleep;

/// An echo server built on the runtime's own API (no futures-io), so the
/// tests below exercise the combinators against real sockets.
async fn echo_server() -> SocketAddr {
    let (l, addr) = listener().await;
    runtime::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            runtime::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Sends `data` to the echo server and returns what came back.
async fn echo_once(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.split();
    let send = async {
        w.write_all(&data).await.unwrap();
        w.shutdown().unwrap();
    };
    let recv = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    };
    futures::join!(send, recv).1
}

/// `join!` runs its futures concurrently: three 200 ms sleeps take ~200 ms,
/// and socket work joined with timers returns every output.
#[test]
fn join_runs_concurrently() {
    let rt = multi(2);
    run_bounded(&rt, "join!", async {
        let start = Instant::now();
        let (a, b, c) = futures::join!(
            async {
                sleep(Duration::from_millis(200)).await;
                1
            },
            async {
                sleep(Duration::from_millis(200)).await;
                2
            },
            async {
                sleep(Duration::from_millis(200)).await;
                3
            },
        );
        let took = start.elapsed();
        assert_eq!((a, b, c), (1, 2, 3));
        assert!(took >= Duration::from_millis(200), "woke early: {took:?}");
        assert!(
            took < Duration::from_millis(550),
            "ran sequentially? {took:?}"
        );

        let addr = echo_server().await;
        let (x, y, z) = futures::join!(
            echo_once(addr, pattern(100_000, 1)),
            echo_once(addr, pattern(200_000, 2)),
            echo_once(addr, pattern(5, 3)),
        );
        assert!(x == pattern(100_000, 1));
        assert!(y == pattern(200_000, 2));
        assert_eq!(z, pattern(5, 3));

        // try_join! stops at the first error.
        let r: Result<(u8, u8), &str> = futures::try_join!(async { Ok::<u8, &str>(1) }, async {
            sleep(Duration::from_millis(10)).await;
            Err("boom")
        });
        assert_eq!(r, Err("boom"));
    });
}

/// `select!` picks whichever branch finishes first: data arriving on a
/// socket beats a long timer; a short timer beats a silent socket.
#[test]
fn select_races_socket_against_timer() {
    let rt = multi(2);
    run_bounded(&rt, "select!", async {
        let (mut client, mut server) = socket_pair().await;
        runtime::spawn(async move {
            sleep(Duration::from_millis(50)).await;
            server.write_all(b"ping").await.unwrap();
            // Keep the connection open (silent) for the second race.
            sleep(Duration::from_secs(5)).await;
            drop(server);
        });

        let mut buf = [0u8; 16];
        let n = {
            let read = client.read(&mut buf).fuse();
            let timer = sleep(Duration::from_secs(10)).fuse();
            futures::pin_mut!(read, timer);
            futures::select! {
                n = read => n.unwrap(),
                () = timer => panic!("timer won against data"),
            }
        };
        assert_eq!(&buf[..n], b"ping");

        let start = Instant::now();
        let read = client.read(&mut buf).fuse();
        let timer = sleep(Duration::from_millis(100)).fuse();
        futures::pin_mut!(read, timer);
        let winner = futures::select! {
            _ = read => "socket",
            () = timer => "timer",
        };
        assert_eq!(winner, "timer");
        assert!(start.elapsed() >= Duration::from_millis(100));
    });
}

/// `select!` in a loop over a stream and a ticking timer, with a `complete`
/// branch: the classic event loop shape. The losing futures are dropped each
/// round, which must deregister them cleanly.
#[test]
fn select_loop_over_stream_and_interval() {
    let rt = current();
    run_bounded(&rt, "select! loop", async {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        runtime::spawn(async move {
            for i in 0..20 {
                sleep(Duration::from_millis(5)).await;
                tx.unbounded_send(i).unwrap();
            }
            // Dropping tx ends the stream.
        });
        let mut rx = rx.fuse();
        let mut ticker = runtime::time::interval(Duration::from_millis(3));
        let mut got = Vec::new();
        let mut ticks = 0u32;
        loop {
            let tick = ticker.tick().fuse();
            futures::pin_mut!(tick);
            futures::select! {
                v = rx.next() => match v {
                    Some(v) => got.push(v),
                    None => break,
                },
                _ = tick => ticks += 1,
                complete => break,
            }
        }
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert!(ticks > 5, "interval barely ticked: {ticks}");
    });
}

/// `FuturesUnordered` yields results in completion order, driving many
/// client connections from one task.
#[test]
fn futures_unordered_many_connections() {
    let rt = multi(4);
    run_bounded(&rt, "FuturesUnordered", async {
        let addr = echo_server().await;
        let mut pending: FuturesUnordered<_> = (0..64u64)
            .map(|i| async move {
                let data = pattern(1000 + i as usize * 300, i);
                let got = echo_once(addr, data.clone()).await;
                (i, got == data)
            })
            .collect();
        let mut seen = [false; 64];
        while let Some((i, ok)) = pending.next().await {
            assert!(ok, "connection {i} echoed corrupt data");
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));

        // Completion order, not submission order: later-submitted timers
        // that are shorter come out first.
        let order: Vec<u64> = (0..5u64)
            .map(|i| async move {
                sleep(Duration::from_millis(100 - i * 20)).await;
                i
            })
            .collect::<FuturesUnordered<_>>()
            .collect()
            .await;
        assert_eq!(order, [4, 3, 2, 1, 0]);
    });
}

/// Our `JoinHandle`s are ordinary futures: collect them in a
/// `FuturesUnordered` or `join_all`.
#[test]
fn join_handles_in_combinators() {
    let rt = multi(4);
    run_bounded(&rt, "JoinHandles", async {
        let handles: FuturesUnordered<_> = (0..100u64)
            .map(|i| runtime::spawn(async move { i * i }))
            .collect();
        let mut sum = 0;
        let mut handles = handles;
        while let Some(r) = handles.next().await {
            sum += r.unwrap();
        }
        assert_eq!(sum, (0..100u64).map(|i| i * i).sum::<u64>());

        let all = future::join_all((0..10u32).map(|i| {
            runtime::spawn(async move {
                sleep(Duration::from_millis(u64::from(10 - i))).await;
                i
            })
        }))
        .await;
        let all: Vec<u32> = all.into_iter().map(Result::unwrap).collect();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    });
}

/// `buffer_unordered` bounds concurrency: never more than 4 in flight.
#[test]
fn buffer_unordered_bounds_concurrency() {
    let rt = multi(4);
    run_bounded(&rt, "buffer_unordered", async {
        let addr = echo_server().await;
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let results: Vec<bool> = stream::iter(0..40u64)
            .map(|i| {
                let in_flight = in_flight.clone();
                let max_seen = max_seen.clone();
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    sleep(Duration::from_millis(2)).await;
                    let data = pattern(5000, i);
                    let ok = echo_once(addr, data.clone()).await == data;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    ok
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        assert_eq!(results.len(), 40);
        assert!(results.iter().all(|&ok| ok));
        let max = max_seen.load(Ordering::SeqCst);
        assert!((1..=4).contains(&max), "max in flight {max}");
    });
}

/// `futures::future::Abortable` cancels a task blocked on a socket read; the
/// socket is released (the peer sees it closed once the task is gone).
#[test]
fn abortable_cancels_a_blocked_read() {
    let rt = multi(2);
    run_bounded(&rt, "Abortable", async {
        let (mut client, mut server) = socket_pair().await;
        let (handle, reg) = AbortHandle::new_pair();
        let task = runtime::spawn(Abortable::new(
            async move {
                let mut buf = [0u8; 8];
                server.read(&mut buf).await
            },
            reg,
        ));
        sleep(Duration::from_millis(50)).await;
        assert!(!task.is_finished());
        handle.abort();
        match task.await.unwrap() {
            Err(Aborted) => {}
            Ok(r) => panic!("read finished instead of aborting: {r:?}"),
        }
        // The aborted future was dropped with the task: server side closed.
        let mut buf = [0u8; 8];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    });
}
