use runtime::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn echo_and_timers() {
    let rt = runtime::Builder::new().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        runtime::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0; 64];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut b = [0; 5];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"hello");
        let t = Instant::now();
        runtime::time::sleep(Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(50));
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                runtime::spawn(async move {
                    runtime::task::yield_now().await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, 999 * 1000 / 2);
    });
}

#[test]
fn current_thread() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    let v = rt.block_on(async {
        let h = runtime::spawn(async {
            runtime::time::sleep(Duration::from_millis(10)).await;
            5
        });
        h.await.unwrap()
    });
    assert_eq!(v, 5);
}
