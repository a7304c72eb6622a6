//! Where a request's time goes inside the guest, for profiling under a real runtime
//! (`bench/spin-phases`). Only with the `phase-timing` feature: then every request writes one
//! `PHASES {...}` line to stderr (microseconds and call counts per phase; no path, no user, no
//! body). Without the feature every function here is an empty inline call, so the component a
//! user deploys carries none of it.

#[derive(Debug, Clone, Copy)]
pub enum Phase {
    /// Headers and body from the runtime into a `Request`.
    Read,
    /// `app::handle`, everything below included.
    Handle,
    /// `sqlite::Connection::open_default`.
    Open,
    /// One `execute` across the component boundary (parameters and rows converted).
    Statement,
    /// One `variables::get`.
    Variable,
    /// The response handed back to the runtime, body written and finished.
    Send,
}

#[cfg(feature = "phase-timing")]
mod imp {
    use crate::spin::phases::Phase;
    use std::cell::RefCell;
    use std::time::Instant;

    const PHASES: usize = 6;
    const NAMES: [&str; PHASES] = ["read", "handle", "open", "statement", "variable", "send"];

    thread_local! {
        static TOTALS: RefCell<[(u128, u32); PHASES]> = const { RefCell::new([(0, 0); PHASES]) };
    }

    pub struct Stamp(Instant);

    impl Stamp {
        pub fn now() -> Self {
            Self(Instant::now())
        }

        pub fn record(self, phase: Phase) {
            let micros = self.0.elapsed().as_micros();
            TOTALS.with(|totals| {
                let slot = &mut totals.borrow_mut()[phase as usize];
                slot.0 += micros;
                slot.1 += 1;
            });
        }
    }

    pub fn report(status: u16, body_bytes: usize) {
        let totals = TOTALS.with(|totals| std::mem::take(&mut *totals.borrow_mut()));
        let fields: Vec<String> = NAMES
            .iter()
            .zip(totals)
            .map(|(name, (micros, calls))| format!("\"{name}\":[{micros},{calls}]"))
            .collect();
        // One write of the whole line: the next request's instance may already be writing
        // (this runs after the response has gone), and `eprintln!` writes piece by piece.
        let line = format!(
            "PHASES {{\"status\":{status},\"bytes\":{body_bytes},{}}}\n",
            fields.join(",")
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    }
}

#[cfg(not(feature = "phase-timing"))]
mod imp {
    use crate::spin::phases::Phase;

    pub struct Stamp;

    impl Stamp {
        #[inline(always)]
        pub fn now() -> Self {
            Self
        }

        #[inline(always)]
        pub fn record(self, _phase: Phase) {}
    }

    #[inline(always)]
    pub fn report(_status: u16, _body_bytes: usize) {}
}

pub use imp::{Stamp, report};

/// Runs `f` as one occurrence of `phase`.
#[inline(always)]
pub fn time<T>(phase: Phase, f: impl FnOnce() -> T) -> T {
    let stamp = Stamp::now();
    let out = f();
    stamp.record(phase);
    out
}

/// Awaits `future` as one occurrence of `phase`.
#[inline(always)]
pub async fn time_async<T>(phase: Phase, future: impl std::future::Future<Output = T>) -> T {
    let stamp = Stamp::now();
    let out = future.await;
    stamp.record(phase);
    out
}
