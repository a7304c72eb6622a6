//! A first-come, first-served async lock for the requests of one instance.
//!
//! `futures`' async mutex wakes one waiter on unlock, but a request that arrives in that moment
//! takes the lock first; under a steady stream of writers a woken waiter can lose that race
//! again and again, and its request waits far longer than the queue it stood in. This lock
//! hands itself on release straight to the longest waiter, so a request waits for exactly the
//! requests that queued before it. A component instance runs its requests on one thread, so
//! the state is a `RefCell`, not atomics.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct FairLock {
    state: RefCell<LockState>,
}

#[derive(Default)]
struct LockState {
    held: bool,
    waiters: VecDeque<Rc<Waiter>>,
}

#[derive(Default)]
struct Waiter {
    /// The lock was handed to this waiter: it holds it from now on.
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Holds the lock until dropped.
pub struct FairGuard<'a> {
    lock: &'a FairLock,
}

impl Drop for FairGuard<'_> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl FairLock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for the lock behind everyone who asked for it before.
    pub fn lock(&self) -> Acquire<'_> {
        Acquire {
            lock: self,
            waiter: None,
        }
    }

    /// Whether someone holds the lock (for tests).
    pub fn is_locked(&self) -> bool {
        self.state.borrow().held
    }

    /// Gives the lock to the longest waiter, or frees it.
    fn release(&self) {
        let next = {
            let mut state = self.state.borrow_mut();
            match state.waiters.pop_front() {
                Some(next) => {
                    next.granted.set(true);
                    Some(next)
                }
                None => {
                    state.held = false;
                    None
                }
            }
        };
        if let Some(next) = next
            && let Some(waker) = next.waker.borrow_mut().take()
        {
            waker.wake();
        }
    }
}

/// The future of [`FairLock::lock`]. Dropped while waiting, it leaves the queue; dropped after
/// the lock was handed to it but before it was polled, it hands the lock on.
pub struct Acquire<'a> {
    lock: &'a FairLock,
    waiter: Option<Rc<Waiter>>,
}

impl<'a> Future for Acquire<'a> {
    type Output = FairGuard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<FairGuard<'a>> {
        let lock = self.lock;
        match &self.waiter {
            None => {
                let mut state = lock.state.borrow_mut();
                if !state.held && state.waiters.is_empty() {
                    state.held = true;
                    return Poll::Ready(FairGuard { lock });
                }
                let waiter = Rc::new(Waiter::default());
                *waiter.waker.borrow_mut() = Some(cx.waker().clone());
                state.waiters.push_back(waiter.clone());
                drop(state);
                self.waiter = Some(waiter);
                Poll::Pending
            }
            Some(waiter) if waiter.granted.get() => {
                self.waiter = None;
                Poll::Ready(FairGuard { lock })
            }
            Some(waiter) => {
                *waiter.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        if waiter.granted.get() {
            self.lock.release();
        } else {
            self.lock
                .state
                .borrow_mut()
                .waiters
                .retain(|queued| !Rc::ptr_eq(queued, &waiter));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll<F: Future>(future: Pin<&mut F>, flag: &Arc<Flag>) -> Poll<F::Output> {
        let waker = Waker::from(flag.clone());
        future.poll(&mut Context::from_waker(&waker))
    }

    fn flag() -> Arc<Flag> {
        Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)))
    }

    #[test]
    fn the_lock_goes_to_waiters_in_the_order_they_came_and_never_to_a_latecomer() {
        let lock = FairLock::new();
        let first = std::pin::pin!(lock.lock());
        let Poll::Ready(held) = poll(first, &flag()) else {
            panic!("a free lock is taken at once");
        };
        let (a_flag, b_flag) = (flag(), flag());
        let mut a = Box::pin(lock.lock());
        let mut b = Box::pin(lock.lock());
        assert!(poll(a.as_mut(), &a_flag).is_pending());
        assert!(poll(b.as_mut(), &b_flag).is_pending());
        drop(held);
        // Handed to `a`, woken; a latecomer queues behind `b` even though `a` has not run yet.
        assert!(a_flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!b_flag.0.load(std::sync::atomic::Ordering::SeqCst));
        let mut late = Box::pin(lock.lock());
        assert!(poll(late.as_mut(), &flag()).is_pending());
        let Poll::Ready(a_held) = poll(a.as_mut(), &a_flag) else {
            panic!("a was handed the lock");
        };
        drop(a_held);
        assert!(b_flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(poll(late.as_mut(), &flag()).is_pending());
        let Poll::Ready(b_held) = poll(b.as_mut(), &b_flag) else {
            panic!("b was next");
        };
        drop(b_held);
        let Poll::Ready(late_held) = poll(late.as_mut(), &flag()) else {
            panic!("the latecomer was last");
        };
        drop(late_held);
        assert!(!lock.is_locked());
    }

    #[test]
    fn a_waiter_that_gives_up_leaves_the_queue_and_a_handed_lock_is_passed_on() {
        let lock = FairLock::new();
        let Poll::Ready(held) = poll(std::pin::pin!(lock.lock()), &flag()) else {
            panic!("free");
        };
        let mut gives_up = Box::pin(lock.lock());
        let mut handed_then_dropped = Box::pin(lock.lock());
        let mut last = Box::pin(lock.lock());
        let last_flag = flag();
        assert!(poll(gives_up.as_mut(), &flag()).is_pending());
        assert!(poll(handed_then_dropped.as_mut(), &flag()).is_pending());
        assert!(poll(last.as_mut(), &last_flag).is_pending());
        drop(gives_up);
        drop(held);
        // The lock went to `handed_then_dropped`, which is dropped before it runs.
        drop(handed_then_dropped);
        assert!(last_flag.0.load(std::sync::atomic::Ordering::SeqCst));
        let Poll::Ready(guard) = poll(last.as_mut(), &last_flag) else {
            panic!("the lock was passed on");
        };
        drop(guard);
        assert!(!lock.is_locked());
    }
}
