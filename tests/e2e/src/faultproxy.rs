//! A fault-injecting TCP proxy in front of a smart-HTTP git server, for chaos tests. Each
//! connection carries one request (the proxy asks the server to close after its response), so a
//! fault can target what a request is: a ref listing (`GET …/info/refs`) or a fetch
//! (`POST …/git-upload-pack`, whose response carries the pack). The fault is switched at any time
//! and applies to connections accepted after the switch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards every byte as it comes.
    PassThrough,
    /// Every response (listings and fetches) goes out `bytes` bytes at a time, `every` apart.
    Trickle { bytes: usize, every: Duration },
    /// A fetch's response stops after `after` bytes of its body; the connection stays open and
    /// silent until the client gives up.
    HangPack { after: usize },
    /// A fetch's response arrives whole, with bytes inside the pack flipped.
    CorruptPack,
}

/// The proxy: listens on a free loopback port, forwards to `127.0.0.1:<upstream>`, and stops
/// when dropped.
pub struct FaultProxy {
    /// The port clients connect to.
    pub port: u16,
    fault: Arc<Mutex<Fault>>,
    injected: Arc<AtomicUsize>,
    faulted_open: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts the proxy (on its own thread and runtime, so a test's blocking calls never stall it).
    pub fn start(upstream: u16) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let fault = Arc::new(Mutex::new(Fault::PassThrough));
        let injected = Arc::new(AtomicUsize::new(0));
        let faulted_open = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let counts = Counts { injected: injected.clone(), faulted_open: faulted_open.clone() };
        let f = fault.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                tokio::select! {
                    () = accept_loop(listener, upstream, f, counts) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here drops every open connection.
        });
        Ok(Self { port, fault, injected, faulted_open, stop: Some(stop), thread: Some(thread) })
    }

    /// Switches the fault for connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// How many responses a fault was applied to so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::Relaxed)
    }

    /// How many connections a fault was applied to are still open (a fetch that never ends shows here).
    pub fn faulted_open(&self) -> usize {
        self.faulted_open.load(Ordering::Relaxed)
    }

    /// The URL of `<name>.git` on the anonymous area of an [`crate::gitserver::HttpGitServer`] behind it.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}.git", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The proxy's counters.
#[derive(Clone)]
struct Counts {
    injected: Arc<AtomicUsize>,
    faulted_open: Arc<AtomicUsize>,
}

impl Counts {
    /// Counts a faulted response; the connection counts as open until the guard drops.
    fn fault_applied(&self) -> OpenGuard {
        self.injected.fetch_add(1, Ordering::Relaxed);
        self.faulted_open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.faulted_open.clone())
    }
}

/// Decrements the open faulted connections when the connection ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn accept_loop(listener: TcpListener, upstream: u16, fault: Arc<Mutex<Fault>>, counts: Counts) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let fault = *fault.lock().unwrap_or_else(|p| p.into_inner());
        let counts = counts.clone();
        tokio::spawn(async move {
            let _ = proxy_one(client, upstream, fault, &counts).await;
        });
    }
}

/// The end of an HTTP head (`\r\n\r\n`), as the offset just past it.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The request head with `Connection: close` instead of any connection header, and whether the
/// request is a fetch.
fn rewrite_request(head: &[u8]) -> (Vec<u8>, bool) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let is_fetch = request_line.starts_with("POST ") && request_line.contains("git-upload-pack");
    let mut out = format!("{request_line}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if name != "connection" && name != "keep-alive" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    (out.into_bytes(), is_fetch)
}

async fn proxy_one(mut client: TcpStream, upstream: u16, fault: Fault, counts: &Counts) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        let n = client.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head_end(&head) {
            break end;
        }
        if head.len() > 64 * 1024 {
            return Ok(());
        }
    };
    let (request, is_fetch) = rewrite_request(&head[..end]);
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
    server.write_all(&request).await?;
    server.write_all(&head[end..]).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // The rest of the request body, and afterwards: returns once the client closes.
    let upload = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    match fault {
        Fault::PassThrough => {
            tokio::io::copy(&mut server_read, &mut client_write).await?;
        }
        Fault::Trickle { bytes, every } => {
            let _open = counts.fault_applied();
            let mut chunk = vec![0u8; bytes.max(1)];
            loop {
                let n = server_read.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                client_write.write_all(&chunk[..n]).await?;
                tokio::time::sleep(every).await;
            }
        }
        Fault::HangPack { after } if is_fetch => {
            let _open = counts.fault_applied();
            let (mut received, mut forwarded) = (Vec::new(), 0);
            loop {
                let n = server_read.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
                let end = head_end(&received);
                let allowed = end.map_or(received.len(), |end| received.len().min(end + after));
                if allowed > forwarded {
                    client_write.write_all(&received[forwarded..allowed]).await?;
                    forwarded = allowed;
                }
                if end.is_some_and(|end| forwarded >= end + after) {
                    break;
                }
            }
            // Silence, with the connection held open, until the client hangs up.
            let _ = upload.await;
            return Ok(());
        }
        Fault::CorruptPack if is_fetch => {
            let mut response = Vec::new();
            server_read.read_to_end(&mut response).await?;
            let _open = corrupt_pack(&mut response).then(|| counts.fault_applied());
            client_write.write_all(&response).await?;
        }
        Fault::HangPack { .. } | Fault::CorruptPack => {
            tokio::io::copy(&mut server_read, &mut client_write).await?;
        }
    }
    client_write.shutdown().await?;
    upload.abort();
    Ok(())
}

/// Flips a byte of the first object's compressed data in the pack of an HTTP response (chunked
/// or not). Returns whether a pack was found.
pub fn corrupt_pack(response: &mut [u8]) -> bool {
    let Some(body_start) = head_end(response) else { return false };
    let chunked =
        String::from_utf8_lossy(&response[..body_start]).to_ascii_lowercase().contains("transfer-encoding: chunked");
    // Offsets of the body's bytes in the raw response, in order.
    let mut raw = Vec::new();
    if chunked {
        let mut at = body_start;
        while let Some(line_end) = response[at..].windows(2).position(|w| w == b"\r\n").map(|p| at + p) {
            let size_text = String::from_utf8_lossy(&response[at..line_end]).to_string();
            let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16) else {
                break;
            };
            if size == 0 {
                break;
            }
            let data = line_end + 2;
            let data_end = (data + size).min(response.len());
            raw.extend(data..data_end);
            at = data_end + 2;
            if at >= response.len() {
                break;
            }
        }
    } else {
        raw.extend(body_start..response.len());
    }
    let body: Vec<u8> = raw.iter().map(|&i| response[i]).collect();
    let Some(pack) = body.windows(4).position(|w| w == b"PACK") else { return false };
    // 12 bytes of pack header, then the first object's header and its zlib stream.
    let Some(&target) = raw.get(pack + 20).or(raw.last()) else { return false };
    response[target] ^= 0xff;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_made_to_close_and_fetches_recognised() {
        let head = b"POST /git/app.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n";
        let (out, is_fetch) = rewrite_request(head);
        let out = String::from_utf8(out).unwrap();
        assert!(is_fetch);
        assert!(out.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"), "{out}");
        assert!(!out.contains("keep-alive"));
        let (_, listing) = rewrite_request(b"GET /git/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\n\r\n");
        assert!(!listing);
    }

    #[test]
    fn a_chunked_pack_is_flipped_inside_its_data() {
        let pack: Vec<u8> = [b"0008NAK\n".as_slice(), b"PACK", &[0u8; 40]].concat();
        let (first, second) = pack.split_at(15);
        let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for part in [first, second] {
            response.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            response.extend_from_slice(part);
            response.extend_from_slice(b"\r\n");
        }
        response.extend_from_slice(b"0\r\n\r\n");
        let original = response.clone();
        assert!(corrupt_pack(&mut response));
        let changed: Vec<usize> = (0..response.len()).filter(|&i| response[i] != original[i]).collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(response[changed[0]], 0xff, "a data byte (zero) flipped, not the chunk framing");
        let mut listing = b"HTTP/1.1 200 OK\r\n\r\n001e# service=git-upload-pack\n".to_vec();
        assert!(!corrupt_pack(&mut listing));
    }
}
