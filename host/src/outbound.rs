//! Outbound HTTP policy: a request leaves only if the component's `allowed_outbound_hosts` names
//! its scheme, host and port, as Spin enforces. Entries may be templates of application
//! variables (`"{{ better_auth_origin }}"`), resolved at start-up as Spin does. Allowed
//! plain-HTTP requests are sent, honouring the request's connect, first-byte and between-bytes
//! timeouts; HTTPS would need a TLS stack this local host does not carry, so it fails with an
//! error.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::Scheme;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

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

/// The `wasi:http` hooks of one request's store.
#[derive(Clone)]
pub struct OutboundPolicy {
    pub component: Arc<str>,
    pub allowed: Arc<[AllowedHost]>,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), Error>;

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
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.allows(request.uri()) {
            // Spin prints this too: without it a denied call is a silent error in the guest.
            eprintln!(
                "component '{}' tried an outbound HTTP request to {}://{}, which allowed_outbound_hosts does not allow",
                self.component,
                request.uri().scheme_str().unwrap_or("?"),
                request.uri().authority().map(|a| a.as_str()).unwrap_or("?"),
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(send_plain_http(request, options))
    }
}

async fn send_plain_http(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    if request.uri().scheme() != Some(&Scheme::HTTP) {
        return Err(Error::InternalError(Some(
            "this local host sends outbound requests over plain http only".to_string(),
        )));
    }
    let host = request.uri().host().unwrap_or_default().to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let connect_timeout = options
        .as_ref()
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(10));
    // wasmtime-wasi-http's defaults when the guest sets none.
    let first_byte_timeout = options
        .as_ref()
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let between_bytes_timeout = options
        .as_ref()
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(Duration::from_secs(600));
    let stream = tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)?
    .map_err(Error::Connect)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    // Over a direct connection the request line carries the origin form, not the full URI.
    let origin = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    *request.uri_mut() = origin.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    // The connection must be driven while the response head is awaited, so it runs in a task.
    let conn = tokio::spawn(conn);
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    let io: IoFuture = Box::new(async move {
        match conn.await {
            Ok(r) => r.map_err(Error::Hyper),
            Err(e) => Err(Error::InternalError(Some(e.to_string()))),
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
    type Data = <hyper::body::Incoming as hyper::body::Body>::Data;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.timeout;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::Hyper(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
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
