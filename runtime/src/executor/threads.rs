//! How the runtime's threads (workers and the blocking pool) are started:
//! their names, stack size, and the user's start/stop hooks.

use std::io;
use std::sync::Arc;

/// A user callback run on each runtime thread.
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync + 'static>;

#[derive(Clone)]
pub(crate) enum ThreadName {
    /// Workers get the name as is, blocking-pool threads `{name}-blocking`.
    Fixed(String),
    /// Called for every new thread, worker or blocking.
    Fn(Arc<dyn Fn() -> String + Send + Sync + 'static>),
}

/// Shared by the builder's worker threads and the blocking pool.
#[derive(Clone)]
pub(crate) struct ThreadConfig {
    pub(crate) name: ThreadName,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_start: Option<Hook>,
    pub(crate) on_stop: Option<Hook>,
}

/// Runs the stop hook when the thread's body returns or unwinds.
struct StopHook(Option<Hook>);

impl Drop for StopHook {
    fn drop(&mut self) {
        if let Some(hook) = &self.0 {
            hook();
        }
    }
}

impl ThreadConfig {
    /// Starts a thread running `body` between the start and stop hooks.
    /// `blocking` picks the fixed name's `-blocking` form.
    pub(crate) fn spawn(
        &self,
        blocking: bool,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<std::thread::JoinHandle<()>> {
        // Boxed so `std::thread::Builder::spawn` (a large generic) is
        // compiled once for every kind of thread; spawning one is rare.
        self.spawn_boxed(blocking, Box::new(body))
    }

    fn spawn_boxed(
        &self,
        blocking: bool,
        body: Box<dyn FnOnce() + Send>,
    ) -> io::Result<std::thread::JoinHandle<()>> {
        let name = match &self.name {
            ThreadName::Fixed(name) if blocking => format!("{name}-blocking"),
            ThreadName::Fixed(name) => name.clone(),
            ThreadName::Fn(f) => f(),
        };
        let mut builder = std::thread::Builder::new().name(name);
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        let on_start = self.on_start.clone();
        let on_stop = self.on_stop.clone();
        builder.spawn(move || {
            let _stop = StopHook(on_stop);
            if let Some(hook) = on_start {
                hook();
            }
            body();
        })
    }
}

impl std::fmt::Debug for ThreadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.name {
            ThreadName::Fixed(name) => name.as_str(),
            ThreadName::Fn(_) => "<thread_name_fn>",
        };
        f.debug_struct("ThreadConfig")
            .field("name", &name)
            .field("stack_size", &self.stack_size)
            .field("on_start", &self.on_start.is_some())
            .field("on_stop", &self.on_stop.is_some())
            .finish()
    }
}
