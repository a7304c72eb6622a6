//! A deliberately small HTTP/1.1 client over a raw socket: tests must be able to send what a
//! browser never would (NUL in paths, duplicate headers, lying Content-Length, invalid UTF-8),
//! and see exactly what came back.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longer than SQLite's 5 s busy timeout, so contention shows up as a status, not a timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may repeat (`Vary`, `Set-Cookie`), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every error of the API is JSON with a string `detail`.
    pub fn assert_json_error(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "status {status}"
        );
        let body = self.json();
        assert!(body["detail"].is_string(), "no detail in {body}");
        body
    }
}

/// Sends raw request bytes on a new connection and reads one response.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Response {
    try_raw(addr, request).expect("a complete response")
}

/// [`raw`], or the I/O error that ended it (a server killed mid-request).
pub fn try_raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.write_all(request)?;
    // A response to HEAD has the headers of a GET and no body (RFC 9110 §9.3.2).
    let head = request.starts_with(b"HEAD ");
    read_response(&mut BufReader::new(stream), !head)
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        self.raw_body("application/json", body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("Content-Type".into(), content_type.into()));
        self.body = Some(body);
        self
    }

    /// A request with these headers and, when given, this JSON body text.
    pub fn with(
        method: &'a str,
        path: &'a str,
        headers: &[(&str, &str)],
        json: Option<&str>,
    ) -> Self {
        let mut request = Self::new(method, path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match json {
            Some(body) => request.raw_body("application/json", body.as_bytes().to_vec()),
            None => request,
        }
    }

    /// [`Request::send`] for a server that may die mid-request: `Ok(None)` when the connection
    /// broke before a whole response, `Err` when nothing listened at all.
    pub fn send_or_lost(&self, addr: SocketAddr) -> std::io::Result<Option<Response>> {
        match self.try_send(addr) {
            Ok(response) => Ok(Some(response)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The request as bytes, with `Connection: close`.
    pub fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut bytes = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
            self.method, self.path
        )
        .into_bytes();
        for (name, value) in &self.headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if let Some(body) = &self.body {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            bytes.extend_from_slice(body);
        } else {
            bytes.extend_from_slice(b"\r\n");
        }
        bytes
    }

    pub fn send(&self, addr: SocketAddr) -> Response {
        raw(addr, &self.to_bytes(addr))
    }

    pub fn try_send(&self, addr: SocketAddr) -> std::io::Result<Response> {
        try_raw(addr, &self.to_bytes(addr))
    }
}

fn broken(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one response from a connection: head, then (unless `with_body` is false, as for HEAD)
/// a body framed by `Transfer-Encoding: chunked`, `Content-Length`, or the end of the connection.
pub fn read_response(reader: &mut impl BufRead, with_body: bool) -> std::io::Result<Response> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken(&format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| broken("header line"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if !with_body {
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| broken("chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(length) = find("content-length") {
        body.resize(length.parse().map_err(|_| broken("content-length"))?, 0);
        reader.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        reader.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// One persistent HTTP/1.1 connection, for what only shows on keep-alive: delays between
/// responses, and whether the server closes after a response.
pub struct KeepAlive {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        // As browsers do: the client side never adds Nagle delays of its own.
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream),
            addr,
        })
    }

    /// Sends `request` (its own `Connection` header aside, the request as built) and reads
    /// the response.
    pub fn send(&mut self, request: &Request) -> std::io::Result<Response> {
        let bytes = request.to_bytes(self.addr);
        let bytes = String::from_utf8_lossy(&bytes).replacen("Connection: close\r\n", "", 1);
        self.send_raw(bytes.as_bytes(), request.method != "HEAD")
    }

    pub fn send_raw(&mut self, bytes: &[u8], with_body: bool) -> std::io::Result<Response> {
        self.reader.get_mut().write_all(bytes)?;
        read_response(&mut self.reader, with_body)
    }

    /// Whether the server closed the connection within `wait` (reading nothing more).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let stream = self.reader.get_mut();
        let _ = stream.set_read_timeout(Some(wait));
        let mut byte = [0u8; 1];
        let closed = matches!(std::io::Read::read(stream, &mut byte), Ok(0));
        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
        closed
    }
}
