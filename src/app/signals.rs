//! SIGTERM and SIGINT for `--loop`: blocked, then waited for between runs.
//!
//! Blocking (rather than a handler) means a signal that arrives during a
//! collection stays pending until the write is complete; the wait that
//! follows returns at once and the loop ends cleanly with exit 0.
//!
//! Raw libc on purpose: rustix offers `sigprocmask` and `sigtimedwait` only
//! in its `runtime` module, whose calls are unsafe and meant for programs
//! without a libc; std's own libc is the safer home for them.

use std::io;
use std::mem::MaybeUninit;
use std::time::Instant;

pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks SIGTERM and SIGINT in the calling thread and the threads it
    /// starts afterwards.
    pub fn block_term_and_int() -> io::Result<Signals> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set before it is read.
        let set = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            let mut set = set.assume_init();
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            set
        };
        // SAFETY: `set` is initialised; the old mask is not needed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Signals { set })
    }

    /// Sleeps until `deadline`; true if SIGTERM or SIGINT came first (or was
    /// already pending).
    pub fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = libc::timespec {
                tv_sec: left.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
            };
            // SAFETY: `set` is initialised; siginfo may be null.
            let rc = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &timeout) };
            if rc > 0 {
                return true;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => return false, // EAGAIN: the deadline passed
            }
        }
    }
}
