//! Executor-agnostic channels across tasks of the multi-thread runtime:
//! `async-channel` (MPMC, bounded and unbounded) and `futures-channel`
//! (`mpsc` and `oneshot`). Wakers from one worker wake tasks on another.

mod ecosystem_support;

use std::time::Duration;

use ecosystem_support::{multi, pattern, run_bounded, socket_pair};
use futures::{SinkExt, StreamExt};
use runtime::time::sleep;

/// Many producers, many consumers through a small bounded `async-channel`:
/// every message is received exactly once (checked by sum and count), and
/// the channel closes when the last sender is dropped.
#[test]
fn async_channel_mpmc_bounded() {
    let rt = multi(4);
    run_bounded(&rt, "async-channel mpmc", async {
        const PRODUCERS: u64 = 8;
        const PER_PRODUCER: u64 = 5_000;
        let (tx, rx) = async_channel::bounded::<u64>(16);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                runtime::spawn(async move {
                    for i in 0..PER_PRODUCER {
                        tx.send(p * PER_PRODUCER + i).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                runtime::spawn(async move {
                    let mut seen = Vec::new();
                    while let Ok(v) = rx.recv().await {
                        seen.push(v);
                    }
                    seen
                })
            })
            .collect();
        drop(rx);
        for p in producers {
            p.await.unwrap();
        }
        let mut all = Vec::new();
        for c in consumers {
            all.extend(c.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>());
    });
}

/// A bounded channel applies backpressure: the sender waits while the
/// channel is full, and resumes when a slow consumer makes room.
#[test]
fn async_channel_backpressure() {
    let rt = multi(2);
    run_bounded(&rt, "backpressure", async {
        let (tx, rx) = async_channel::bounded::<u32>(2);
        let sender = runtime::spawn(async move {
            for i in 0..10 {
                tx.send(i).await.unwrap();
            }
        });
        sleep(Duration::from_millis(50)).await;
        // Two sit in the channel; the sender is parked on the third.
        assert_eq!(rx.len(), 2);
        assert!(!sender.is_finished());
        let mut got = Vec::new();
        while let Ok(v) = rx.recv().await {
            got.push(v);
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        sender.await.unwrap();
    });
}

/// A length-prefixed frame in one buffer. (Two small writes per message —
/// length, then body — would meet Nagle's algorithm and delayed ACKs in a
/// request/response exchange and cost ~40 ms per message.)
fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

/// `futures-channel` mpsc as a work queue feeding socket writers, with
/// per-request oneshot replies: the request/response pattern of an actor.
#[test]
fn futures_channel_actor_with_oneshot_replies() {
    let rt = multi(4);
    run_bounded(&rt, "mpsc + oneshot actor", async {
        type Req = (Vec<u8>, futures::channel::oneshot::Sender<Vec<u8>>);
        let (tx, mut rx) = futures::channel::mpsc::channel::<Req>(8);
        // The actor owns a connection to an "upstream" that reverses each
        // length-prefixed message; it serialises all requests on it.
        let (mut up_client, mut up_server) = socket_pair().await;
        runtime::spawn(async move {
            loop {
                let mut len = [0u8; 4];
                if up_server.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
                up_server.read_exact(&mut msg).await.unwrap();
                msg.reverse();
                up_server.write_all(&frame(&msg)).await.unwrap();
            }
        });
        let actor = runtime::spawn(async move {
            let mut served = 0;
            while let Some((req, reply)) = rx.next().await {
                up_client.write_all(&frame(&req)).await.unwrap();
                let mut len = [0u8; 4];
                up_client.read_exact(&mut len).await.unwrap();
                let mut resp = vec![0u8; u32::from_be_bytes(len) as usize];
                up_client.read_exact(&mut resp).await.unwrap();
                // The caller may have gone away; that's fine.
                let _ = reply.send(resp);
                served += 1;
            }
            served
        });
        let clients: Vec<_> = (0..16u64)
            .map(|c| {
                let mut tx = tx.clone();
                runtime::spawn(async move {
                    for i in 0..20u64 {
                        let req = pattern(10 + (c * 20 + i) as usize, c * 100 + i);
                        let (otx, orx) = futures::channel::oneshot::channel();
                        tx.send((req.clone(), otx)).await.unwrap();
                        let mut resp = orx.await.unwrap();
                        resp.reverse();
                        assert_eq!(resp, req);
                    }
                })
            })
            .collect();
        drop(tx);
        for c in clients {
            c.await.unwrap();
        }
        assert_eq!(actor.await.unwrap(), 16 * 20);
    });
}

/// oneshot across tasks: a value sent from a worker wakes a task on another;
/// dropping the sender resolves the receiver with `Canceled`; a receiver
/// dropped before the send makes `send` return the value.
#[test]
fn futures_channel_oneshot_semantics() {
    let rt = multi(4);
    run_bounded(&rt, "oneshot", async {
        let (tx, rx) = futures::channel::oneshot::channel::<String>();
        let waiter = runtime::spawn(rx);
        sleep(Duration::from_millis(20)).await;
        runtime::spawn(async move { tx.send("from another task".to_string()).unwrap() })
            .await
            .unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), "from another task");

        let (tx, rx) = futures::channel::oneshot::channel::<u8>();
        let waiter = runtime::spawn(rx);
        sleep(Duration::from_millis(20)).await;
        runtime::spawn(async move { drop(tx) }).await.unwrap();
        assert_eq!(
            waiter.await.unwrap(),
            Err(futures::channel::oneshot::Canceled)
        );

        let (tx, rx) = futures::channel::oneshot::channel::<u8>();
        drop(rx);
        assert_eq!(tx.send(7), Err(7));
    });
}

/// Unbounded `futures-channel` mpsc fan-in from many tasks, consumed as a
/// `Stream` with `StreamExt` combinators; per-sender order is preserved.
#[test]
fn futures_channel_unbounded_fan_in_preserves_per_sender_order() {
    let rt = multi(4);
    run_bounded(&rt, "mpsc fan-in", async {
        let (tx, rx) = futures::channel::mpsc::unbounded::<(u32, u32)>();
        for s in 0..10u32 {
            let tx = tx.clone();
            runtime::spawn(async move {
                for i in 0..1000u32 {
                    tx.unbounded_send((s, i)).unwrap();
                    if i % 100 == 0 {
                        runtime::task::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let all: Vec<(u32, u32)> = rx.collect().await;
        assert_eq!(all.len(), 10_000);
        let mut next = [0u32; 10];
        for (s, i) in all {
            assert_eq!(next[s as usize], i, "sender {s} out of order");
            next[s as usize] += 1;
        }
    });
}
