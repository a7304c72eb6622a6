//! A Server-Sent Events client for tests: opens `GET …/events` on its own connection, reads the
//! head, then the body as it arrives (chunked or not) and hands out one event at a time, each
//! with a deadline, so a test can tell "no event" from "an event late".

use crate::client::Request;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One event: its fields as sent (`event` defaults to `message`, as in browsers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// An open stream (or the response that refused to open one).
pub struct EventStream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    chunked: bool,
    /// Bytes of the body read but not yet made into events.
    pending: String,
    /// Whether the body ended (the server closed the stream).
    ended: bool,
    /// Comment lines seen so far (heartbeats).
    pub comments: usize,
}

impl EventStream {
    /// Sends `request` (a GET of an event stream) and reads the response head.
    pub fn open(addr: SocketAddr, request: &Request) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut writer = stream.try_clone()?;
        std::io::Write::write_all(&mut writer, &request.to_bytes(addr))?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let chunked = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        Ok(Self {
            status,
            headers,
            reader,
            chunked,
            pending: String::new(),
            ended: false,
            comments: 0,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole body of a response that is not a stream (an error), read to its end.
    pub fn body_text(mut self) -> String {
        while !self.ended {
            if self
                .read_some(Instant::now() + Duration::from_secs(10))
                .is_err()
            {
                break;
            }
        }
        self.pending
    }

    /// The next event, waiting until `deadline`; `None` when none came by then or the stream
    /// ended (see [`Self::ended`]).
    pub fn next_event(&mut self, within: Duration) -> Option<Event> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            if self.ended || Instant::now() >= deadline {
                return None;
            }
            if self.read_some(deadline).is_err() {
                self.ended = true;
            }
        }
    }

    /// Every event until the stream ends or `within` passes.
    pub fn events_for(&mut self, within: Duration) -> Vec<Event> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        while let Some(event) = self.next_event(deadline.saturating_duration_since(Instant::now()))
        {
            events.push(event);
        }
        events
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Reads what the server sent next (a chunk, or whatever is there) into `pending`.
    fn read_some(&mut self, deadline: Instant) -> std::io::Result<()> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.reader.get_ref().set_read_timeout(Some(wait))?;
        let outcome = if self.chunked {
            self.read_chunk()
        } else {
            let mut buffer = [0u8; 4096];
            match self.reader.read(&mut buffer) {
                Ok(0) => {
                    self.ended = true;
                    Ok(())
                }
                Ok(n) => {
                    self.pending
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        match outcome {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    fn read_chunk(&mut self) -> std::io::Result<()> {
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line)? == 0 {
            self.ended = true;
            return Ok(());
        }
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "chunk size"))?;
        // The chunk comes whole; the deadline was for its first byte.
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))?;
        if size == 0 {
            self.ended = true;
            return Ok(());
        }
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        self.pending.push_str(&String::from_utf8_lossy(&chunk));
        Ok(())
    }

    /// Parses the first complete event (a block ending in a blank line) out of `pending`.
    fn take_event(&mut self) -> Option<Event> {
        loop {
            let end = self.pending.find("\n\n")?;
            let block: String = self.pending.drain(..end + 2).collect();
            let mut event = Event {
                id: None,
                event: "message".to_owned(),
                data: String::new(),
            };
            let mut fields = 0;
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                fields += 1;
                match name {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = value.to_owned(),
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                    }
                    _ => fields -= 1,
                }
            }
            // A block of comments or `retry:` only is not an event.
            if fields > 0 && (event.id.is_some() || !event.data.is_empty()) {
                return Some(event);
            }
        }
    }
}
