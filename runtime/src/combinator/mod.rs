//! Small combinators for writing services as ordinary `async` code: wait for whichever of
//! several things happens first ([`race()`]), and a deadline that can move while it is being
//! waited for ([`Deadline`]).
//!
//! Together with [`CancellationToken`](crate::cancel::CancellationToken) they cover what a
//! connection handler usually needs without hand-written `poll` functions:
//!
//! ```
//! use std::time::Duration;
//! use runtime::cancel::CancellationToken;
//! use runtime::combinator::{race, Deadline};
//!
//! enum Event { Input(usize), Stop, Idle }
//!
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let stop = CancellationToken::new();
//!     let mut idle = Deadline::after(Some(Duration::from_millis(5)));
//!     let input = std::future::pending::<usize>();
//!     let event = race(
//!         async { Event::Input(input.await) },
//!         race(async { stop.cancelled().await; Event::Stop }, async { (&mut idle).await; Event::Idle }),
//!     )
//!     .await;
//!     assert!(matches!(event, Event::Idle));
//! });
//! ```

#[cfg(feature = "time")]
mod deadline;
mod race;

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
pub use deadline::Deadline;
pub use race::{race, Race};
