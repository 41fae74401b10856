//! A fault-injecting TCP proxy: this kernel has no `netem`, so network faults below HTTP
//! come from here. It listens on 127.0.0.1:0 and forwards every accepted connection to one
//! target, applying a plan the test sets (and may change between connections):
//!
//! - shaping ([`Shape`]): latency added per direction as a delay line (every chunk is
//!   delivered that much later; chunks stay pipelined, as on a long link), and a bandwidth
//!   cap in bytes/s per direction, shared by all connections like one link;
//! - faults ([`Fault`]): once N bytes have crossed in one direction, a **reset** (RST to both
//!   peers: `SO_LINGER` 0, then close) or a **stall** (nothing moves either way, nothing is
//!   read any more, both sockets stay open). A fault applies to the next K connections, or
//!   to the next K connections whose client sent a given byte string (a request line), N
//!   then counting from the end of that string or of that request's head (into its body),
//!   so a fault hits the request it names even on a pooled keep-alive connection, and a
//!   retry on a fresh connection can succeed.
//!
//! The proxy records every connection (bytes each way, the fault it carried, whether it
//! fired) so a test can assert that every fault was consumed. It runs on its own one-thread
//! tokio runtime, shut down when the proxy is dropped; a stalled connection is held at most
//! [`STALL_HOLD`], and every loop ends with its socket, its channel or the runtime.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Largest piece read and forwarded at once: small enough for a bandwidth cap to be smooth.
const CHUNK: usize = 16 * 1024;
/// Pieces buffered per direction (the delay line's length bound).
const IN_FLIGHT: usize = 64;
/// How long a stalled connection is kept open at most (the proxy's drop ends it sooner).
pub const STALL_HOLD: Duration = Duration::from_mins(1);
/// How much of the client's stream is kept to find a trigger split across reads.
const TAIL: usize = 4096;
/// The end of an HTTP/1.1 request head.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server (requests, request bodies).
    ToServer,
    /// Server to client (answers).
    ToClient,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Abort the connection with RST to both peers.
    Reset,
    /// Stop forwarding both ways and keep both sockets open.
    Stall,
}

/// One fault, for the next `times` connections it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Reset or stall.
    pub action: Action,
    /// The direction whose bytes are counted.
    pub direction: Direction,
    /// Bytes forwarded in `direction` before the fault fires (after the trigger, if any).
    pub after: u64,
    /// Only connections whose client sent these bytes; `None`: any new connection.
    pub when_sent: Option<String>,
    /// With `when_sent`: count from the end of that request's head ([`Direction::ToServer`])
    /// or of its answer's head ([`Direction::ToClient`]), i.e. `after` bytes into the body.
    pub into_body: bool,
    /// Connections it applies to (`usize::MAX`: all).
    pub times: usize,
}

impl Fault {
    /// A reset once `after` bytes crossed in `direction`, on the next connection.
    pub fn reset(direction: Direction, after: u64) -> Fault {
        Fault {
            action: Action::Reset,
            direction,
            after,
            when_sent: None,
            into_body: false,
            times: 1,
        }
    }

    /// A stall once `after` bytes crossed in `direction`, on the next connection.
    pub fn stall(direction: Direction, after: u64) -> Fault {
        Fault {
            action: Action::Stall,
            ..Fault::reset(direction, after)
        }
    }

    /// Only on connections whose client sent `needle`; `after` counts from its end.
    pub fn when_sent(mut self, needle: &str) -> Fault {
        assert!(
            !needle.is_empty() && needle.len() < TAIL,
            "trigger of 1 to {TAIL} bytes"
        );
        self.when_sent = Some(needle.to_owned());
        self
    }

    /// `after` counts from the end of the triggering request's head, or of its answer's head
    /// for [`Direction::ToClient`]: into the body.
    pub fn into_body(mut self) -> Fault {
        assert!(self.when_sent.is_some(), "into_body needs when_sent");
        self.into_body = true;
        self
    }

    /// On the next `n` matching connections.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    /// On every matching connection.
    pub fn always(self) -> Fault {
        self.times(usize::MAX)
    }
}

/// Shaping applied to every chunk forwarded from now on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Added to every chunk sent to the server.
    pub to_server_latency: Duration,
    /// Added to every chunk sent to the client.
    pub to_client_latency: Duration,
    /// Bytes per second, per direction, shared by all connections; `None`: unlimited.
    pub bandwidth: Option<u64>,
}

/// What the proxy did with one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Bytes forwarded to the server.
    pub to_server: u64,
    /// Bytes forwarded to the client.
    pub to_client: u64,
    /// The fault this connection carried.
    pub fault: Option<Fault>,
    /// The fault fired (a carried fault does not fire if the connection ends first).
    pub fired: bool,
    /// The proxy is done with the connection.
    pub closed: bool,
}

#[derive(Default)]
struct Plan {
    shape: Shape,
    faults: VecDeque<Fault>,
}

/// Shared between the test and the proxy's tasks.
struct Shared {
    target: SocketAddr,
    plan: Mutex<Plan>,
    connections: Mutex<Vec<Connection>>,
    /// Per direction, when the shared link is next free (bandwidth cap).
    links: [Mutex<Instant>; 2],
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// The address to connect to instead of the target.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// A proxy in front of `target`, an `http://host:port` URL (path ignored) or
    /// `host:port`.
    pub fn start(target: &str) -> FaultProxy {
        let authority = target
            .strip_prefix("http://")
            .unwrap_or(target)
            .split('/')
            .next()
            .expect("authority");
        let target: SocketAddr = authority
            .parse()
            .unwrap_or_else(|e| panic!("proxy target {authority:?}: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let now = Instant::now();
        let shared = Arc::new(Shared {
            target,
            plan: Mutex::new(Plan::default()),
            connections: Mutex::new(Vec::new()),
            links: [Mutex::new(now), Mutex::new(now)],
        });
        runtime.spawn(accept(listener, Arc::clone(&shared)));
        FaultProxy {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the shaping for every chunk from now on.
    pub fn shape(&self, shape: Shape) {
        self.shared.plan.lock().expect("plan").shape = shape;
    }

    /// Queues a fault (faults are matched in the order they were queued).
    pub fn fault(&self, fault: Fault) {
        assert!(fault.times > 0, "a fault for no connection");
        self.shared
            .plan
            .lock()
            .expect("plan")
            .faults
            .push_back(fault);
    }

    /// Faults still waiting for a connection (an `always` fault waits forever).
    pub fn pending(&self) -> Vec<Fault> {
        self.shared
            .plan
            .lock()
            .expect("plan")
            .faults
            .iter()
            .cloned()
            .collect()
    }

    /// Every connection so far, in accept order.
    pub fn connections(&self) -> Vec<Connection> {
        self.shared.connections.lock().expect("connections").clone()
    }

    /// The faults that fired, in accept order of their connections.
    pub fn fired(&self) -> Vec<Fault> {
        self.connections()
            .into_iter()
            .filter(|c| c.fired)
            .filter_map(|c| c.fault)
            .collect()
    }

    /// Total bytes forwarded to the server and to the client.
    pub fn bytes(&self) -> (u64, u64) {
        self.connections()
            .iter()
            .fold((0, 0), |(s, c), x| (s + x.to_server, c + x.to_client))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Shared {
    fn shape(&self) -> Shape {
        self.plan.lock().expect("plan").shape
    }

    /// Takes the first queued fault `fits` accepts, counting one use of it.
    fn claim(&self, fits: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut plan = self.plan.lock().expect("plan");
        let i = plan.faults.iter().position(fits)?;
        let fault = plan.faults[i].clone();
        plan.faults[i].times -= 1;
        if plan.faults[i].times == 0 {
            plan.faults.remove(i);
        }
        Some(fault)
    }

    fn with_connection(&self, id: usize, f: impl FnOnce(&mut Connection)) {
        f(&mut self.connections.lock().expect("connections")[id]);
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Ends when the runtime shuts down (the proxy was dropped).
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors or similar: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let id = {
            let mut all = shared.connections.lock().expect("connections");
            all.push(Connection::default());
            all.len() - 1
        };
        tokio::spawn(serve(Arc::clone(&shared), id, client));
    }
}

/// A fault armed on one connection: it fires when `direction` has forwarded `at` bytes.
#[derive(Debug, Clone, Copy)]
struct Armed {
    action: Action,
    direction: Direction,
    at: u64,
}

/// A fault that arms at the end of the next HTTP head in one direction.
#[derive(Debug, Clone, Copy)]
struct HeadThen {
    action: Action,
    direction: Direction,
    /// Bytes to count after the head.
    after: u64,
    /// Where in that direction's stream the head's end is looked for.
    from: u64,
}

/// How one direction (or the connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Error,
    Reset,
    Stall,
}

/// The fault a connection carries: claimed, possibly waiting for the end of a request head,
/// then armed at an offset.
#[derive(Default)]
struct Carried {
    claimed: bool,
    /// Waiting for a head's end (`into_body`) in the stream going `direction`.
    head_then: Option<HeadThen>,
    armed: Option<Armed>,
}

async fn serve(shared: Arc<Shared>, id: usize, mut client: TcpStream) {
    let Ok(mut server) = TcpStream::connect(shared.target).await else {
        let _ = client.set_zero_linger();
        shared.with_connection(id, |c| c.closed = true);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let carried = Mutex::new(Carried::default());
    if let Some(fault) = shared.claim(|f| f.when_sent.is_none()) {
        let mut c = carried.lock().expect("carried");
        c.claimed = true;
        c.armed = Some(Armed {
            action: fault.action,
            direction: fault.direction,
            at: fault.after,
        });
        shared.with_connection(id, |x| x.fault = Some(fault));
    }
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pipe(
            &shared,
            id,
            Direction::ToServer,
            client_read,
            server_write,
            &carried,
        );
        let down = pipe(
            &shared,
            id,
            Direction::ToClient,
            server_read,
            client_write,
            &carried,
        );
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            let end = tokio::select! {
                e = &mut up, if !up_done => { up_done = true; e }
                e = &mut down, if !down_done => { down_done = true; e }
            };
            match end {
                End::Eof if !(up_done && down_done) => {}
                other => break other,
            }
        }
    };
    match end {
        End::Eof => {}
        End::Reset | End::Error => {
            // RST both ways (an error is passed on as the abort it was).
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
        End::Stall => tokio::time::sleep(STALL_HOLD).await,
    }
    shared.with_connection(id, |c| c.closed = true);
    drop((client, server));
}

/// Forwards one direction through a delay line until end of stream or a fault fires.
async fn pipe(
    shared: &Shared,
    id: usize,
    direction: Direction,
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    carried: &Mutex<Carried>,
) -> End {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        let mut tail: Vec<u8> = Vec::new();
        let mut offset = 0u64;
        let end = loop {
            let n = match from.read(&mut buf).await {
                Ok(0) => break End::Eof,
                Ok(n) => n,
                Err(_) => break End::Error,
            };
            watch(shared, id, direction, carried, &mut tail, offset, &buf[..n]);
            offset += n as u64;
            let shape = shared.shape();
            let latency = match direction {
                Direction::ToServer => shape.to_server_latency,
                Direction::ToClient => shape.to_client_latency,
            };
            if tx
                .send((Instant::now() + latency, buf[..n].to_vec()))
                .await
                .is_err()
            {
                break End::Error;
            }
        };
        // The writer drains what is queued, then sees the end.
        drop(tx);
        end
    };
    let writer = async {
        let mut sent = 0u64;
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let armed = carried
                .lock()
                .expect("carried")
                .armed
                .filter(|a| a.direction == direction);
            let (take, fire) = match armed {
                Some(a) if sent + chunk.len() as u64 >= a.at => {
                    (a.at.saturating_sub(sent) as usize, Some(a.action))
                }
                _ => (chunk.len(), None),
            };
            let piece = &chunk[..take];
            if let Some(rate) = shared.shape().bandwidth {
                let slot = Duration::from_secs_f64(piece.len() as f64 / rate as f64);
                let free = {
                    let mut next = shared.links[direction as usize].lock().expect("link");
                    *next = (*next).max(Instant::now()) + slot;
                    *next
                };
                tokio::time::sleep_until(free).await;
            }
            // Counted before the write, so a test that has read the bytes sees them counted.
            sent += piece.len() as u64;
            shared.with_connection(id, |c| match direction {
                Direction::ToServer => c.to_server += piece.len() as u64,
                Direction::ToClient => c.to_client += piece.len() as u64,
            });
            if !piece.is_empty() && to.write_all(piece).await.is_err() {
                return End::Error;
            }
            if let Some(action) = fire {
                shared.with_connection(id, |c| c.fired = true);
                return match action {
                    Action::Reset => End::Reset,
                    Action::Stall => End::Stall,
                };
            }
        }
        let _ = to.shutdown().await;
        End::Eof
    };
    tokio::pin!(reader, writer);
    let mut read_end = None;
    loop {
        tokio::select! {
            r = &mut reader, if read_end.is_none() => {
                if r == End::Error {
                    return End::Error;
                }
                read_end = Some(r);
            }
            w = &mut writer => return match w {
                End::Eof => read_end.unwrap_or(End::Eof),
                other => other,
            },
        }
    }
}

/// Looks for a trigger in what the client sent, or for the head a claimed fault waits for,
/// in `chunk` (read going `direction`, at stream `offset`), and arms the fault.
fn watch(
    shared: &Shared,
    id: usize,
    direction: Direction,
    carried: &Mutex<Carried>,
    tail: &mut Vec<u8>,
    offset: u64,
    chunk: &[u8],
) {
    let mut c = carried.lock().expect("carried");
    let waits_here = c.head_then.is_some_and(|h| h.direction == direction);
    if c.armed.is_some() || (c.claimed && !waits_here) {
        // Nothing to find in this direction: the kept tail would no longer end at `offset`.
        tail.clear();
        return;
    }
    let start = offset - tail.len() as u64;
    tail.extend_from_slice(chunk);
    let window = std::mem::take(tail);
    let found = |needle: &[u8], from: usize| {
        window[from.min(window.len())..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| from + p + needle.len())
    };
    if !c.claimed && direction == Direction::ToServer {
        let matched = {
            let plan = shared.plan.lock().expect("plan");
            plan.faults.iter().find_map(|f| {
                let needle = f.when_sent.as_deref()?;
                found(needle.as_bytes(), 0).map(|end| (needle.to_owned(), end))
            })
        };
        // Another connection may have taken the fault's last use in between.
        if let Some((fault, end)) = matched.and_then(|(needle, end)| {
            shared
                .claim(|f| f.when_sent.as_ref() == Some(&needle))
                .map(|f| (f, end))
        }) {
            c.claimed = true;
            // Counted from the trigger's end, or from where the answer to it will start
            // (HTTP/1.1 answers in order: every earlier answer has been forwarded).
            let base = match fault.direction {
                Direction::ToServer => start + end as u64,
                Direction::ToClient => {
                    shared.connections.lock().expect("connections")[id].to_client
                }
            };
            if fault.into_body {
                c.head_then = Some(HeadThen {
                    action: fault.action,
                    direction: fault.direction,
                    after: fault.after,
                    from: base,
                });
            } else {
                c.armed = Some(Armed {
                    action: fault.action,
                    direction: fault.direction,
                    at: base + fault.after,
                });
            }
            shared.with_connection(id, |x| x.fault = Some(fault));
        }
    }
    if let Some(h) = c.head_then.filter(|h| h.direction == direction)
        && let Some(end) = found(HEAD_END, h.from.saturating_sub(start) as usize)
    {
        c.head_then = None;
        c.armed = Some(Armed {
            action: h.action,
            direction,
            at: start + end as u64 + h.after,
        });
    }
    let keep = window.len().min(TAIL);
    *tail = window[window.len() - keep..].to_vec();
}

#[cfg(test)]
mod tests {
    //! The proxy itself against plain TCP peers (std sockets on loopback).
    use std::io::{ErrorKind, Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    use super::*;

    /// A server that reads everything from one connection and reports how many bytes it
    /// got and how the stream ended.
    fn sink() -> (String, std::thread::JoinHandle<(usize, ErrorKind)>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_millis(1500)))
                .expect("timeout");
            let mut got = 0;
            let mut buf = vec![0u8; 65536];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return (got, ErrorKind::UnexpectedEof),
                    Ok(n) => got += n,
                    Err(e) => return (got, e.kind()),
                }
            }
        });
        (addr, handle)
    }

    #[test]
    fn a_reset_cuts_both_peers_after_the_given_bytes() {
        let (addr, server) = sink();
        let proxy = FaultProxy::start(&addr);
        proxy.fault(Fault::reset(Direction::ToServer, 100_000));
        let mut client = TcpStream::connect(proxy.addr).expect("connect");
        let data = vec![7u8; 1_000_000];
        let wrote = client.write_all(&data);
        let mut buf = [0u8; 16];
        let read = client.read(&mut buf);
        let (got, how) = server.join().expect("server");
        assert_eq!(how, ErrorKind::ConnectionReset, "the server saw a reset");
        assert!(got <= 100_000 && got > 0, "{got}");
        assert!(
            wrote.is_err() || read.is_err(),
            "the client saw the reset: {wrote:?} {read:?}"
        );
        assert!(proxy.pending().is_empty());
        assert_eq!(proxy.fired().len(), 1);
        assert_eq!(proxy.connections()[0].to_server, 100_000);
    }

    #[test]
    fn a_stall_keeps_the_connection_open_and_silent() {
        let (addr, server) = sink();
        let proxy = FaultProxy::start(&addr);
        proxy.fault(Fault::stall(Direction::ToServer, 10_000));
        let mut client = TcpStream::connect(proxy.addr).expect("connect");
        client.write_all(&vec![1u8; 50_000]).expect("write");
        // The server's read deadline (1.5 s) expires: no end of stream, no reset.
        let (got, how) = server.join().expect("server");
        assert_eq!(got, 10_000);
        assert!(
            matches!(how, ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{how:?}"
        );
        let c = &proxy.connections()[0];
        assert!(c.fired && !c.closed, "{c:?}");
    }

    #[test]
    fn a_triggered_fault_skips_earlier_requests_and_counts_into_the_body() {
        let (addr, server) = sink();
        let proxy = FaultProxy::start(&addr);
        proxy.fault(
            Fault::reset(Direction::ToServer, 10)
                .when_sent("PUT /b")
                .into_body(),
        );
        let mut client = TcpStream::connect(proxy.addr).expect("connect");
        let first = b"PUT /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc";
        let second = b"PUT /b HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n";
        client.write_all(first).expect("first");
        std::thread::sleep(Duration::from_millis(100));
        let _ = client.write_all(second);
        let _ = client.write_all(&[b'z'; 50]);
        let (got, how) = server.join().expect("server");
        assert_eq!(how, ErrorKind::ConnectionReset);
        assert_eq!(got, first.len() + second.len() + 10);
        assert_eq!(proxy.fired().len(), 1);
    }

    #[test]
    fn an_answer_fault_counts_from_the_end_of_the_answer_head() {
        // A server that answers each request line with a head and a 100-byte body.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}",
                    "b".repeat(100)
                );
                if s.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        });
        let proxy = FaultProxy::start(&addr);
        proxy.fault(
            Fault::reset(Direction::ToClient, 40)
                .when_sent("GET /second")
                .into_body(),
        );
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".len();
        let mut client = TcpStream::connect(proxy.addr).expect("connect");
        let mut first = vec![0u8; head + 100];
        client
            .write_all(b"GET /first HTTP/1.1\r\n\r\n")
            .expect("first");
        client.read_exact(&mut first).expect("first answer whole");
        client
            .write_all(b"GET /second HTTP/1.1\r\n\r\n")
            .expect("second");
        let mut second = Vec::new();
        let how = client.read_to_end(&mut second).map_err(|e| e.kind());
        assert_eq!(how, Err(ErrorKind::ConnectionReset));
        assert_eq!(second.len(), head + 40, "the head and 40 bytes of the body");
        assert_eq!(proxy.fired().len(), 1);
    }

    #[test]
    fn latency_and_bandwidth_slow_the_stream_without_changing_it() {
        // An echo server: the bytes come back through both directions of the proxy.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut r = s.try_clone().expect("clone");
            let _ = std::io::copy(&mut r, &mut s);
        });
        let proxy = FaultProxy::start(&addr);
        proxy.shape(Shape {
            to_server_latency: Duration::from_millis(150),
            to_client_latency: Duration::from_millis(150),
            bandwidth: Some(200_000),
        });
        let data = crate::support::random_bytes(200_000, 5);
        let started = Instant::now();
        let mut client = TcpStream::connect(proxy.addr).expect("connect");
        let mut writer = client.try_clone().expect("clone");
        let sent = data.clone();
        let w = std::thread::spawn(move || writer.write_all(&sent).expect("write"));
        let mut back = vec![0u8; data.len()];
        client.read_exact(&mut back).expect("echo");
        w.join().expect("writer");
        let took = started.elapsed();
        assert!(back == data, "the bytes changed");
        // 200 kB at 200 kB/s, plus 300 ms of round trip.
        assert!(took >= Duration::from_millis(1200), "{took:?}");
        assert_eq!(proxy.bytes(), (200_000, 200_000));
    }
}
