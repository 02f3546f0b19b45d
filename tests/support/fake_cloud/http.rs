//! HTTP/1.1 plumbing: one thread per connection with keep-alive, request parsing (sized and
//! chunked bodies, `Expect: 100-continue`, absolute-form targets), responses, streamed
//! downloads, resets and hangs.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::artifacts::Payload;
use super::scenario::StreamFault;
use super::{Recorded, Shared, handle, parse_query};

/// Longest a `Fault::Hang` holds a connection, so its thread always ends.
const HANG_CAP: Duration = Duration::from_secs(60);
/// How often idle connection threads look at the shutdown flag.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Once the first byte of a request is in, the rest must arrive within this.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 128;
const MAX_BODY: usize = 32 * 1024 * 1024;

pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) close: bool,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

enum ReadError {
    /// Clean end of stream between requests, or a socket error: just go away.
    Gone,
    /// Not HTTP we understand: answer 400 and close.
    Malformed(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Vec<u8>,
}

impl Response {
    pub(super) fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }
    pub(super) fn nest(status: u16, message: &str) -> Response {
        Response::json(
            status,
            &json!({"statusCode": status, "message": message, "error": reason(status)}),
        )
    }
    pub(super) fn header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

/// What the handler decided to do with a request.
pub(super) enum Action {
    Answer(Response),
    /// A download generated on the fly, possibly broken part-way.
    Stream {
        status: u16,
        content_type: &'static str,
        payload: Payload,
        fault: Option<StreamFault>,
    },
    Reset,
    Hang,
}

pub(super) fn serve_connection(stream: TcpStream, shared: Arc<Shared>, conn: usize) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if !wait_for_request(&mut reader, &shared) {
            return;
        }
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(REQUEST_READ_TIMEOUT));
        let req = match read_request(&mut reader, &mut writer) {
            Ok(req) => req,
            Err(ReadError::Gone) => return,
            Err(ReadError::Malformed(why)) => {
                let resp = Response::nest(400, why);
                let _ = write_response(&mut writer, &resp, true);
                lingering_close(&writer, &mut reader);
                return;
            }
        };
        let slot = {
            let mut st = shared.lock();
            st.requests.push(Recorded {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
                at: shared.start.elapsed(),
                status: 0,
                conn,
            });
            st.requests.len() - 1
        };
        match handle(&shared, &req, slot) {
            Action::Answer(resp) => {
                if write_response(&mut writer, &resp, req.close).is_err() {
                    return;
                }
                if req.close {
                    lingering_close(&writer, &mut reader);
                    return;
                }
            }
            Action::Stream {
                status,
                content_type,
                payload,
                fault,
            } => {
                let head = response_head(status, content_type, Some(payload.len()), &[], req.close);
                let sent = payload.len().min(match fault {
                    Some(
                        StreamFault::CutAfter(n)
                        | StreamFault::StallAfter(n)
                        | StreamFault::Drip { after: n, .. },
                    ) => n,
                    None => u64::MAX,
                });
                let ok = writer
                    .write_all(&head)
                    .and_then(|_| payload.write_to(&mut writer, sent))
                    .and_then(|_| writer.flush());
                if ok.is_err() {
                    return;
                }
                match fault {
                    Some(StreamFault::CutAfter(_)) => {
                        reset(&writer);
                        return;
                    }
                    Some(StreamFault::StallAfter(_)) => {
                        hang(&mut reader, &shared);
                        return;
                    }
                    Some(StreamFault::Drip { every, .. }) => {
                        drip(&mut writer, every, payload.len() - sent, &shared);
                        return;
                    }
                    None if req.close => {
                        lingering_close(&writer, &mut reader);
                        return;
                    }
                    None => {}
                }
            }
            Action::Reset => {
                reset(&writer);
                return;
            }
            Action::Hang => {
                hang(&mut reader, &shared);
                return;
            }
        }
    }
}

/// Wait (checking the shutdown flag) until the next request's first byte is here.
/// False when the peer closed, the socket failed, or the fake is shutting down.
fn wait_for_request(reader: &mut BufReader<TcpStream>, shared: &Shared) -> bool {
    if !reader.buffer().is_empty() {
        return true;
    }
    let _ = reader.get_ref().set_read_timeout(Some(IDLE_POLL));
    let mut probe = [0u8; 1];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        match reader.get_ref().peek(&mut probe) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One line ending in LF (CR stripped), at most `MAX_LINE` bytes. `None` at EOF before
/// any byte.
fn read_line(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Gone)
            };
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE {
            return Err(ReadError::Malformed("Header line too long"));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Request, ReadError> {
    // Request line; tolerate stray blank lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(reader)? {
            None => return Err(ReadError::Gone),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let line = String::from_utf8(line).map_err(|_| ReadError::Malformed("Bad request line"))?;
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("Bad request line"));
    };
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ReadError::Malformed("Bad method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Malformed("Unsupported HTTP version")),
    };

    let mut headers = Vec::new();
    loop {
        let Some(h) = read_line(reader)? else {
            return Err(ReadError::Gone);
        };
        if h.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Malformed("Too many headers"));
        }
        let h = String::from_utf8_lossy(&h).into_owned();
        let Some((name, value)) = h.split_once(':') else {
            return Err(ReadError::Malformed("Bad header line"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ReadError::Malformed("Bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let has_token = |n: &str, token: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let close =
        has_token("connection", "close") || (http10 && !has_token("connection", "keep-alive"));

    if has_token("expect", "100-continue") && !http10 {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if has_token("transfer-encoding", "chunked") {
        read_chunked(reader)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Malformed("Bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Malformed("Body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };

    // Origin-form, or absolute-form when the client thinks we are a proxy.
    let target = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        },
        None => target,
    };
    if !target.starts_with('/') {
        return Err(ReadError::Malformed("Bad request target"));
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (target, Vec::new()),
    };
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
        close,
    })
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(ReadError::Gone);
        };
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ReadError::Malformed("Bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                match read_line(reader)? {
                    None => return Err(ReadError::Gone),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Malformed("Body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        match read_line(reader)? {
            Some(l) if l.is_empty() => {}
            Some(_) => return Err(ReadError::Malformed("Bad chunk terminator")),
            None => return Err(ReadError::Gone),
        }
    }
}

/// Status line and headers; `len` is announced as `content-length` unless the status never
/// carries a body.
fn response_head(
    status: u16,
    content_type: &str,
    len: Option<u64>,
    headers: &[(&'static str, String)],
    close: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    let _ = write!(out, "content-type: {content_type}\r\n");
    if let (false, Some(len)) = (bodyless(status), len) {
        let _ = write!(out, "content-length: {len}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.extend_from_slice(if close {
        b"connection: close\r\n".as_slice()
    } else {
        b"connection: keep-alive\r\n".as_slice()
    });
    out.extend_from_slice(b"\r\n");
    out
}

/// 304 (and 1xx/204) never carry a body; don't announce one.
fn bodyless(status: u16) -> bool {
    status == 304 || status == 204 || status < 200
}

fn write_response(w: &mut TcpStream, resp: &Response, close: bool) -> io::Result<()> {
    let mut out = response_head(
        resp.status,
        resp.content_type,
        Some(resp.body.len() as u64),
        &resp.headers,
        close,
    );
    if !bodyless(resp.status) {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

/// Close politely: FIN our side, then drain what the peer still sends so the kernel
/// doesn't turn unread bytes into an RST that eats our last response.
fn lingering_close(w: &TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = w.shutdown(Shutdown::Write);
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.get_mut().read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Abort the connection: SO_LINGER {on, 0} then close sends an RST.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd owned by `stream` for the duration of the call; the option value
    // points at a live `linger` of the size we pass.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // Both handles (reader clone and writer) share the socket; the RST goes out when the
    // last one closes, which is when serve_connection returns.
}

/// Hold the connection without answering until the peer leaves, we shut down, or the cap.
/// One byte every `every`, at most `left` of them, until the client goes away, the fake
/// stops or [`HANG_CAP`] passes.
fn drip(writer: &mut TcpStream, every: Duration, left: u64, shared: &Shared) {
    let until = Instant::now() + HANG_CAP;
    for _ in 0..left {
        std::thread::sleep(every);
        if Instant::now() >= until || shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if writer.write_all(b".").and_then(|_| writer.flush()).is_err() {
            return;
        }
    }
}

fn hang(reader: &mut BufReader<TcpStream>, shared: &Shared) {
    let until = Instant::now() + HANG_CAP;
    let _ = reader.get_ref().set_read_timeout(Some(IDLE_POLL));
    let mut sink = [0u8; 4096];
    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
        match reader.get_mut().read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
