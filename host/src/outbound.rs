//! Outbound HTTP policy: a request leaves only if the component's `allowed_outbound_hosts` names
//! its scheme, host and port, as Spin enforces. Entries may be templates of application
//! variables (`"{{ better_auth_origin }}"`), resolved at start-up as Spin does. The policy
//! covers both `wasi:http/client@0.3.0-rc-2026-03-15` (WASIp3) and
//! `wasi:http/outgoing-handler@0.2` (WASI 0.2); a denied request is `HttpRequestDenied`. Allowed
//! plain-HTTP requests are sent, honouring the request's connect, first-byte and between-bytes
//! timeouts; HTTPS would need a TLS stack this local host does not carry, so it fails with an
//! error.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::rt::TokioIo;
use wasmtime_wasi::TrappableError;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as P2Code;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode as P3Code;
use wasmtime_wasi_http::{p2, p3};

/// One `allowed_outbound_hosts` entry, e.g. `https://api.example.com`, `http://localhost:3001`,
/// `*://*.example.com:*`, `http://127.0.0.1:8000..8010`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`: any subdomain, not the apex.
    Subdomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    /// An entry as written in the manifest: its `{{ variable }}` references rendered with the
    /// application's values first. A value that renders to something unparsable (e.g. an empty
    /// variable) is an error, as in Spin.
    pub fn resolve(entry: &str, values: &HashMap<String, String>) -> Result<AllowedHost, String> {
        let rendered = crate::template::Template::parse(entry)?.render(values)?;
        AllowedHost::parse(rendered.trim()).map_err(|why| {
            if rendered == entry {
                why
            } else {
                format!("'{entry}' is '{rendered}': {why}")
            }
        })
    }

    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        if entry.contains("{{") {
            return Err(format!(
                "'{entry}': templates in allowed_outbound_hosts are not supported by this host"
            ));
        }
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| format!("'{entry}' must have the form scheme://host[:port]"))?;
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()) => Some(s.to_string()),
            _ => return Err(format!("'{entry}': bad scheme '{scheme}'")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!("'{entry}' must not contain a path"));
        }
        let (host, port) = if rest.starts_with('[') {
            // An IPv6 literal: its colons are not the port separator.
            let end = rest
                .find(']')
                .ok_or_else(|| format!("'{entry}': unterminated IPv6 address"))?;
            match &rest[end + 1..] {
                "" => (&rest[..=end], None),
                tail => match tail.strip_prefix(':') {
                    Some(p) => (&rest[..=end], Some(p)),
                    None => return Err(format!("'{entry}': bad host")),
                },
            }
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let host = match host {
            "" => return Err(format!("'{entry}': empty host")),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") && h.len() > 2 => {
                HostPattern::Subdomain(h[2..].to_ascii_lowercase())
            }
            h if h.contains('*') => return Err(format!("'{entry}': bad wildcard host '{h}'")),
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        let port = match port {
            Some("*") => PortPattern::Any,
            Some(p) => {
                let parse = |s: &str| {
                    s.parse::<u16>()
                        .map_err(|_| format!("'{entry}': bad port '{p}'"))
                };
                match p.split_once("..") {
                    Some((lo, hi)) => {
                        let (lo, hi) = (parse(lo)?, parse(hi)?);
                        if lo > hi {
                            return Err(format!("'{entry}': empty port range '{p}'"));
                        }
                        PortPattern::Range(lo, hi)
                    }
                    None => {
                        let n = parse(p)?;
                        PortPattern::Range(n, n)
                    }
                }
            }
            None => match scheme.as_deref().and_then(default_port) {
                Some(n) => PortPattern::Range(n, n),
                None => {
                    return Err(format!(
                        "'{entry}': a port is required for this scheme (e.g. '{entry}:8080' or ':*')"
                    ));
                }
            },
        };
        Ok(AllowedHost { scheme, host, port })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomain(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Range(lo, hi) => (lo..=hi).contains(&port),
        };
        scheme_ok && host_ok && port_ok
    }
}

/// The `wasi:http` hooks of one instance's store, for both generations of the interface
/// (`wasi:http/outgoing-handler@0.2` and `wasi:http/client@0.3.0-rc-2026-03-15`).
#[derive(Clone)]
pub struct OutboundPolicy {
    pub component: Arc<str>,
    pub allowed: Arc<[AllowedHost]>,
}

impl OutboundPolicy {
    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else {
            return false;
        };
        let Some(port) = uri.port_u16().or_else(|| default_port(scheme)) else {
            return false;
        };
        self.allowed.iter().any(|a| a.allows(scheme, host, port))
    }

    /// Whether `uri` may be requested; says why not on stderr when it may not (Spin prints
    /// this too: without it a denied call is a silent error in the guest).
    fn admit(&self, uri: &http::Uri) -> bool {
        if self.allows(uri) {
            return true;
        }
        eprintln!(
            "component '{}' tried an outbound HTTP request to {}://{}, which allowed_outbound_hosts does not allow",
            self.component,
            uri.scheme_str().unwrap_or("?"),
            uri.authority().map(|a| a.as_str()).unwrap_or("?"),
        );
        false
    }
}

/// Why an allowed request was not answered, before either interface's error codes.
#[derive(Debug)]
enum SendError {
    NotPlainHttp,
    UriInvalid,
    ConnectTimeout,
    Dns,
    ConnectionRefused,
    FirstByteTimeout,
    Hyper(hyper::Error),
}

const PLAIN_HTTP_ONLY: &str = "this local host sends outbound requests over plain http only";

/// A request body's error, as hyper's client wants it.
#[derive(Debug)]
struct BodyError(String);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

/// The connection task of one outbound request: it ends when the response has been read.
type Connection = tokio::task::JoinHandle<Result<(), hyper::Error>>;

/// Sends `request` over a new plain-HTTP/1.1 connection and waits for the response head.
async fn send_plain<B>(
    mut request: http::Request<B>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
) -> Result<(http::Response<hyper::body::Incoming>, Connection), SendError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if request.uri().scheme() != Some(&Scheme::HTTP) {
        return Err(SendError::NotPlainHttp);
    }
    let host = request
        .uri()
        .host()
        .ok_or(SendError::UriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let stream = tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| SendError::ConnectTimeout)?
    .map_err(|e| {
        // wasmtime-wasi-http's own mapping: lookups that fail are DNS errors.
        if e.kind() == std::io::ErrorKind::AddrNotAvailable
            || e.to_string()
                .starts_with("failed to lookup address information")
        {
            SendError::Dns
        } else {
            SendError::ConnectionRefused
        }
    })?;
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| SendError::ConnectTimeout)?
    .map_err(SendError::Hyper)?;
    // Over a direct connection the request line carries the origin form, not the full URI.
    let origin = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    *request.uri_mut() = origin.parse().map_err(|_| SendError::UriInvalid)?;
    // The connection must be driven while the response head is awaited, so it runs in a task.
    let conn = tokio::spawn(conn);
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| SendError::FirstByteTimeout)?
        .map_err(SendError::Hyper)?;
    Ok((response, conn))
}

/// `wasi:http/outgoing-handler@0.2`.
impl p2::WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<p2::body::HyperOutgoingBody>,
        config: p2::types::OutgoingRequestConfig,
    ) -> p2::HttpResult<p2::types::HostFutureIncomingResponse> {
        if !self.admit(request.uri()) {
            return Err(P2Code::HttpRequestDenied.into());
        }
        let handle =
            wasmtime_wasi::runtime::spawn(async move { Ok(send_p2(request, config).await) });
        Ok(p2::types::HostFutureIncomingResponse::pending(handle))
    }
}

fn p2_code(e: SendError) -> P2Code {
    match e {
        SendError::NotPlainHttp => P2Code::InternalError(Some(PLAIN_HTTP_ONLY.to_string())),
        SendError::UriInvalid => P2Code::HttpRequestUriInvalid,
        SendError::ConnectTimeout => P2Code::ConnectionTimeout,
        SendError::Dns => P2Code::DnsError(p2::bindings::http::types::DnsErrorPayload {
            rcode: Some("address not available".to_string()),
            info_code: Some(0),
        }),
        SendError::ConnectionRefused => P2Code::ConnectionRefused,
        SendError::FirstByteTimeout => P2Code::ConnectionReadTimeout,
        SendError::Hyper(e) => p2::hyper_request_error(e),
    }
}

async fn send_p2(
    request: http::Request<p2::body::HyperOutgoingBody>,
    config: p2::types::OutgoingRequestConfig,
) -> Result<p2::types::IncomingResponse, P2Code> {
    if config.use_tls {
        return Err(p2_code(SendError::NotPlainHttp));
    }
    let request = request.map(|body| body.map_err(|e| BodyError(format!("{e:?}"))));
    let (response, conn) = send_plain(request, config.connect_timeout, config.first_byte_timeout)
        .await
        .map_err(p2_code)?;
    let worker = wasmtime_wasi::runtime::spawn(async move {
        let _ = conn.await;
    });
    Ok(p2::types::IncomingResponse {
        resp: response.map(|body| body.map_err(p2::hyper_response_error).boxed_unsync()),
        worker: Some(worker),
        // wasmtime-wasi-http applies it while the guest reads the body.
        between_bytes_timeout: config.between_bytes_timeout,
    })
}

type P3Body = UnsyncBoxBody<Bytes, P3Code>;
type P3Io = Box<dyn Future<Output = Result<(), P3Code>> + Send>;
type P3Sent = Result<(http::Response<P3Body>, P3Io), TrappableError<P3Code>>;

/// `wasi:http/client@0.3.0-rc-2026-03-15`.
impl p3::WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<P3Body>,
        options: Option<p3::RequestOptions>,
        _fut: P3Io,
    ) -> Box<dyn Future<Output = P3Sent> + Send> {
        if !self.admit(request.uri()) {
            return Box::new(async { Err(P3Code::HttpRequestDenied.into()) });
        }
        Box::new(send_p3(request, options))
    }
}

fn p3_code(e: SendError) -> P3Code {
    match e {
        SendError::NotPlainHttp => P3Code::InternalError(Some(PLAIN_HTTP_ONLY.to_string())),
        SendError::UriInvalid => P3Code::HttpRequestUriInvalid,
        SendError::ConnectTimeout => P3Code::ConnectionTimeout,
        SendError::Dns => P3Code::DnsError(p3::bindings::http::types::DnsErrorPayload {
            rcode: Some("address not available".to_string()),
            info_code: Some(0),
        }),
        SendError::ConnectionRefused => P3Code::ConnectionRefused,
        SendError::FirstByteTimeout => P3Code::ConnectionReadTimeout,
        SendError::Hyper(e) => p3_hyper_code(e),
    }
}

fn p3_hyper_code(e: hyper::Error) -> P3Code {
    if e.is_timeout() {
        P3Code::HttpResponseTimeout
    } else {
        P3Code::InternalError(Some(e.to_string()))
    }
}

async fn send_p3(request: http::Request<P3Body>, options: Option<p3::RequestOptions>) -> P3Sent {
    // wasmtime-wasi-http's defaults when the guest sets none.
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(600));
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let between_bytes_timeout = options
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(Duration::from_secs(600));
    let request = request.map(|body| body.map_err(|e| BodyError(format!("{e:?}"))));
    let (response, conn) = send_plain(request, connect_timeout, first_byte_timeout)
        .await
        .map_err(p3_code)?;
    let io: P3Io = Box::new(async move {
        match conn.await {
            Ok(r) => r.map_err(p3_hyper_code),
            Err(e) => Err(P3Code::InternalError(Some(e.to_string()))),
        }
    });
    let response = response.map(|incoming| {
        BetweenBytes {
            incoming,
            timeout: between_bytes_timeout,
            timer: Box::pin(tokio::time::sleep(between_bytes_timeout)),
        }
        .boxed_unsync()
    });
    Ok((response, io))
}

/// A response body that fails when the server goes quiet for longer than `timeout`.
struct BetweenBytes {
    incoming: hyper::body::Incoming,
    timeout: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = P3Code;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, P3Code>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.timeout;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(p3_hyper_code(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(P3Code::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, scheme: &str, host: &str, port: u16) -> bool {
        AllowedHost::parse(entry)
            .unwrap()
            .allows(scheme, host, port)
    }

    #[test]
    fn entries_match_scheme_host_and_port() {
        assert!(allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            443
        ));
        assert!(allows(
            "https://API.example.com",
            "https",
            "api.Example.com",
            443
        ));
        assert!(!allows(
            "https://api.example.com",
            "http",
            "api.example.com",
            443
        ));
        assert!(!allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            8443
        ));
        assert!(!allows("https://api.example.com", "https", "evil.com", 443));
        assert!(allows("http://localhost:3001", "http", "localhost", 3001));
        assert!(!allows("http://localhost:3001", "http", "localhost", 80));
        assert!(allows("*://*.example.com:*", "http", "a.example.com", 1));
        assert!(!allows("*://*.example.com:*", "http", "example.com", 1));
        assert!(!allows("*://*.example.com:*", "http", "badexample.com", 1));
        assert!(allows(
            "http://127.0.0.1:8000..8010",
            "http",
            "127.0.0.1",
            8005
        ));
        assert!(!allows(
            "http://127.0.0.1:8000..8010",
            "http",
            "127.0.0.1",
            8011
        ));
        assert!(allows("https://*:*", "https", "anything", 9));
        assert!(allows("http://[::1]:8080", "http", "[::1]", 8080));
        assert!(allows("http://[::1]", "http", "[::1]", 80));
    }

    #[test]
    fn bad_entries_are_rejected() {
        for bad in [
            "example.com",
            "https://",
            "https://example.com/path",
            "*://example.com",
            "https://example.com:x",
            "https://ex*ample.com",
            "https://{{ host }}",
            "http://h:9..1",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templated_entries_resolve_with_application_values() {
        let values: HashMap<String, String> = [
            ("origin".to_string(), "http://127.0.0.1:4000".to_string()),
            ("host".to_string(), "auth.example.com".to_string()),
            ("empty".to_string(), String::new()),
        ]
        .into();
        let resolved = AllowedHost::resolve("{{ origin }}", &values).unwrap();
        assert!(resolved.allows("http", "127.0.0.1", 4000));
        assert!(!resolved.allows("http", "127.0.0.1", 4001));
        let resolved = AllowedHost::resolve("https://{{host}}", &values).unwrap();
        assert!(resolved.allows("https", "auth.example.com", 443));
        assert_eq!(
            AllowedHost::resolve("http://localhost:3001", &values).unwrap(),
            AllowedHost::parse("http://localhost:3001").unwrap()
        );
        // An empty value makes no entry, and so an error (Spin refuses to start too).
        let error = AllowedHost::resolve("{{ empty }}", &values).unwrap_err();
        assert!(error.contains("'{{ empty }}' is ''"), "{error}");
        assert!(AllowedHost::resolve("{{ unknown }}", &values).is_err());
    }

    #[test]
    fn policy_denies_what_is_not_listed() {
        let policy = OutboundPolicy {
            component: "c".into(),
            allowed: vec![AllowedHost::parse("http://localhost:3001").unwrap()].into(),
        };
        assert!(policy.allows(&"http://localhost:3001/x".parse().unwrap()));
        assert!(!policy.allows(&"http://localhost:3002/x".parse().unwrap()));
        assert!(!policy.allows(&"https://localhost:3001/x".parse().unwrap()));
        assert!(!policy.allows(&"/relative".parse().unwrap()));
        let none = OutboundPolicy {
            component: "c".into(),
            allowed: Vec::new().into(),
        };
        assert!(!none.allows(&"http://localhost/".parse().unwrap()));
    }
}
