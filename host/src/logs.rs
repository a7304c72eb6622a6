//! The component's stdout/stderr, kept like `spin up` does: appended to
//! `<state_dir>/logs/<component>_{stdout,stderr}.txt` and, unless quiet, echoed to the terminal.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Clone, Copy)]
enum Terminal {
    Stdout,
    Stderr,
}

/// One guest output stream: a log file plus, optionally, the host's own stream.
#[derive(Clone)]
pub struct TeeOutput {
    file: Arc<File>,
    echo: Option<Terminal>,
}

pub struct ComponentLogs {
    stdout: TeeOutput,
    stderr: TeeOutput,
}

impl ComponentLogs {
    pub fn open(state_dir: &Path, component: &str, quiet: bool) -> anyhow::Result<ComponentLogs> {
        let dir = state_dir.join("logs");
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create log directory {}: {}",
                dir.display(),
                crate::messages::io_message(&e)
            )
        })?;
        let open = |suffix: &str| -> anyhow::Result<Arc<File>> {
            let path = dir.join(format!("{component}_{suffix}.txt"));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open log file {}: {}",
                        path.display(),
                        crate::messages::io_message(&e)
                    )
                })?;
            Ok(Arc::new(file))
        };
        Ok(ComponentLogs {
            stdout: TeeOutput {
                file: open("stdout")?,
                echo: (!quiet).then_some(Terminal::Stdout),
            },
            stderr: TeeOutput {
                file: open("stderr")?,
                echo: (!quiet).then_some(Terminal::Stderr),
            },
        })
    }

    pub fn stdout(&self) -> TeeOutput {
        self.stdout.clone()
    }

    pub fn stderr(&self) -> TeeOutput {
        self.stderr.clone()
    }
}

impl IsTerminal for TeeOutput {
    fn is_terminal(&self) -> bool {
        // The guest must not assume a TTY: its output also goes to a file.
        false
    }
}

impl StdoutStream for TeeOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl TeeOutput {
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        (&*self.file).write_all(buf)?;
        // Echo failures (a closed terminal) must not fail the guest's write.
        match self.echo {
            Some(Terminal::Stdout) => {
                let _ = std::io::stdout().write_all(buf);
            }
            Some(Terminal::Stderr) => {
                let _ = std::io::stderr().write_all(buf);
            }
            None => {}
        }
        Ok(())
    }
}

impl AsyncWrite for TeeOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // Log writes are small and local; writing in place keeps their order.
        Poll::Ready(self.write_all(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(Terminal::Stdout) = self.echo {
            let _ = std::io::stdout().flush();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn guest_output_is_appended_to_per_component_files() {
        let dir = std::env::temp_dir().join(format!("task-api-host-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for round in 0..2 {
            let logs = ComponentLogs::open(&dir, "api", true).unwrap();
            let mut out = Box::into_pin(logs.stdout().async_stream());
            out.write_all(format!("out {round}\n").as_bytes())
                .await
                .unwrap();
            let mut err = Box::into_pin(logs.stderr().async_stream());
            err.write_all(b"err\n").await.unwrap();
        }
        let out = std::fs::read_to_string(dir.join("logs/api_stdout.txt")).unwrap();
        assert_eq!(out, "out 0\nout 1\n");
        let err = std::fs::read_to_string(dir.join("logs/api_stderr.txt")).unwrap();
        assert_eq!(err, "err\nerr\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
