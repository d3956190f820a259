//! Task-local values: `task_local!`, `LocalKey`, and the scope future.
//!
//! A task-local value belongs to a future, not to a thread: the task may be
//! polled by any worker. Each key is therefore backed by one
//! `std::thread_local!` slot (`RefCell<Option<T>>`) that holds the value only
//! *while* a scoped future is being polled. The scope future keeps the value
//! between polls and swaps it into the polling thread's slot just before it
//! polls the inner future, then swaps it back out (a drop guard, so a panic
//! in the inner poll restores the slot as well). Whatever the slot held before
//! — an outer scope of the same key, or nothing — comes back after each poll,
//! which is what makes nested scopes and interleaved tasks on one worker work.
//!
//! No value ever sits in a thread-local slot while its owner is not running,
//! so the scope future is `Send` exactly when `T` and the inner future are.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: values a future sets with [`LocalKey::scope`]
/// and reads with [`LocalKey::with`] from any code it runs, across `.await`s
/// and on whichever worker polls it.
///
/// Several keys may be declared in one block, each with attributes and a
/// visibility. The type must be `'static`; a key has no initial value.
///
/// ```
/// runtime::task_local! {
///     /// The request being served.
///     pub static REQUEST_ID: u64;
///     static USER: String;
/// }
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(REQUEST_ID.scope(7, async {
///     runtime::task::yield_now().await;
///     assert_eq!(REQUEST_ID.get(), 7);
///     assert!(USER.try_with(|u| u.len()).is_err());
/// }));
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty; $($rest:tt)*) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
    };
}

/// One key of [`task_local!`]: the thread-local slot and the static wrapping it.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_key {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __SLOT: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(&__SLOT)
        };
    };
}

/// A key declared with [`task_local!`](crate::task_local): a value a future
/// carries with it and code it runs can read.
///
/// ```
/// runtime::task_local! {
///     static DEPTH: u32;
/// }
///
/// let key: &'static runtime::task::LocalKey<u32> = &DEPTH;
/// let rt = runtime::Runtime::new().unwrap();
/// let seen = rt.block_on(key.scope(3, async { key.get() }));
/// assert_eq!(seen, 3);
/// ```
pub struct LocalKey<T: 'static> {
    slot: &'static std::thread::LocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`](crate::task_local) only.
    #[doc(hidden)]
    pub const fn __new(slot: &'static std::thread::LocalKey<RefCell<Option<T>>>) -> Self {
        LocalKey { slot }
    }

    /// Returns a future that runs `future` with this key set to `value`. The
    /// value is visible during each poll of `future`, on whichever thread
    /// polls it; between polls and after completion, the key holds what it
    /// held before (an outer scope's value, or nothing).
    ///
    /// ```
    /// runtime::task_local! {
    ///     static NAME: &'static str;
    /// }
    ///
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let task = runtime::spawn(NAME.scope("worker", async {
    ///         runtime::task::yield_now().await;
    ///         NAME.get()
    ///     }));
    ///     assert_eq!(task.await.unwrap(), "worker");
    ///     assert!(NAME.try_with(|_| ()).is_err());
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
        }
    }

    /// Runs `f` with this key set to `value`, then restores what the key held
    /// before (also when `f` panics).
    ///
    /// ```
    /// runtime::task_local! {
    ///     static LEVEL: u8;
    /// }
    ///
    /// let doubled = LEVEL.sync_scope(21, || LEVEL.with(|l| l * 2));
    /// assert_eq!(doubled, 42);
    /// assert!(LEVEL.try_with(|_| ()).is_err());
    /// ```
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut value = Some(value);
        let _guard = self.enter(&mut value);
        f()
    }

    /// Calls `f` with a reference to the key's current value.
    ///
    /// # Panics
    /// Outside a [`scope`](LocalKey::scope) or
    /// [`sync_scope`](LocalKey::sync_scope) of this key; the message names the
    /// caller's location. Use [`try_with`](LocalKey::try_with) to get an error
    /// instead.
    ///
    /// ```
    /// runtime::task_local! {
    ///     static TAGS: Vec<&'static str>;
    /// }
    ///
    /// TAGS.sync_scope(vec!["a", "b"], || {
    ///     assert_eq!(TAGS.with(|t| t.len()), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "task-local value read outside a `scope`/`sync_scope` of its key \
                 (or while its thread is being torn down)"
            ),
        }
    }

    /// Calls `f` with a reference to the key's current value, or returns an
    /// [`AccessError`] outside a scope of this key (or while the thread's
    /// locals are being destroyed).
    ///
    /// ```
    /// runtime::task_local! {
    ///     static COUNT: usize;
    /// }
    ///
    /// assert!(COUNT.try_with(|c| *c).is_err());
    /// assert_eq!(COUNT.sync_scope(5, || COUNT.try_with(|c| *c)), Ok(5));
    /// ```
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        self.slot
            .try_with(|cell| {
                // A shared borrow fails only while a scope is being entered
                // from inside a `with` closure, which `enter` refuses anyway.
                let current = cell.try_borrow().ok()?;
                current.as_ref().map(f)
            })
            .ok()
            .flatten()
            .ok_or(AccessError { _priv: () })
    }

    /// Swaps `value` into this thread's slot; the guard swaps it back.
    #[track_caller]
    fn enter<'a>(&'static self, value: &'a mut Option<T>) -> ScopeGuard<'a, T> {
        let swapped = self
            .slot
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut slot) => {
                    std::mem::swap(&mut *slot, value);
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        if !swapped {
            panic!(
                "cannot enter a task-local scope while the key's value is borrowed \
                 (inside `with`) or while the thread is being torn down"
            );
        }
        ScopeGuard { key: self, value }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// Returns a clone of the key's current value.
    ///
    /// # Panics
    /// Outside a scope of this key, as [`with`](LocalKey::with) does.
    ///
    /// ```
    /// runtime::task_local! {
    ///     static ID: u32;
    /// }
    ///
    /// assert_eq!(ID.sync_scope(9, || ID.get()), 9);
    /// ```
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Puts the scope's value back into its owner when dropped, normally or
/// during a panic, and restores what the slot held before.
struct ScopeGuard<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
}

impl<T: 'static> Drop for ScopeGuard<'_, T> {
    fn drop(&mut self) {
        // `enter` succeeded on this thread, so the slot is alive; it cannot be
        // borrowed either: a `with` borrow ends before its closure returns, and
        // a nested scope's guard has already been dropped.
        let _ = self.key.slot.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                std::mem::swap(&mut *slot, self.value);
            }
        });
    }
}

pin_project_lite::pin_project! {
    /// The future [`LocalKey::scope`] returns: polls the inner future with the
    /// key set. When it is dropped before completion, the inner future is
    /// dropped inside the scope too, so its destructors can read the key.
    ///
    /// ```
    /// runtime::task_local! {
    ///     static KEY: i32;
    /// }
    ///
    /// let scoped: runtime::task::TaskLocalFuture<i32, _> = KEY.scope(1, async { KEY.get() + 1 });
    /// let rt = runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(scoped), 2);
    /// ```
    ///
    /// It is `Send` only when the value and the inner future are, so a `!Send`
    /// value cannot be smuggled onto another worker:
    ///
    /// ```compile_fail
    /// runtime::task_local! {
    ///     static SHARED: std::rc::Rc<u8>;
    /// }
    ///
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     runtime::spawn(SHARED.scope(std::rc::Rc::new(1), async {}));
    /// });
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct TaskLocalFuture<T: 'static, F> {
        key: &'static LocalKey<T>,
        value: Option<T>,
        #[pin]
        future: Option<F>,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.future.is_none() {
                return;
            }
            let key: &'static LocalKey<T> = this.key;
            // Drop the inner future inside the scope when the slot can be
            // entered; otherwise (the thread is tearing down its locals, or a
            // `with` closure on this thread is dropping us) drop it plainly.
            let can_enter = key
                .slot
                .try_with(|cell| cell.try_borrow_mut().is_ok())
                .unwrap_or(false);
            let mut future = this.future;
            if can_enter {
                let _guard = key.enter(this.value);
                future.set(None);
            } else {
                future.set(None);
            }
        }
    }
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of the scope, if the scope still holds it: `None`
    /// once taken before. After taking it, polling the future panics when the
    /// inner future has not completed (it would run without its value).
    ///
    /// ```
    /// runtime::task_local! {
    ///     static KEY: String;
    /// }
    ///
    /// let mut scoped = Box::pin(KEY.scope("kept".to_string(), async {}));
    /// assert_eq!(scoped.as_mut().take_value().as_deref(), Some("kept"));
    /// assert_eq!(scoped.as_mut().take_value(), None);
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.project().value.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let key: &'static LocalKey<T> = this.key;
        if this.value.is_none() && this.future.is_some() {
            panic!("`TaskLocalFuture` polled after its value was taken with `take_value`");
        }
        let _guard = key.enter(this.value);
        let mut future = this.future;
        let Some(inner) = future.as_mut().as_pin_mut() else {
            panic!("`TaskLocalFuture` polled after completion");
        };
        let poll = inner.poll(cx);
        if poll.is_ready() {
            // Drop the finished future while the value is still set, as an
            // unfinished one is dropped in `PinnedDrop`.
            future.set(None);
        }
        poll
    }
}

impl<T: 'static + fmt::Debug, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value", &self.value)
            .field("completed", &self.future.is_none())
            .finish_non_exhaustive()
    }
}

/// The error [`LocalKey::try_with`] returns outside a scope of its key.
///
/// ```
/// runtime::task_local! {
///     static KEY: u8;
/// }
///
/// let err: runtime::task::AccessError = KEY.try_with(|_| ()).unwrap_err();
/// assert!(err.to_string().contains("outside"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError {
    _priv: (),
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value accessed outside a scope of its key")
    }
}

impl Error for AccessError {}
