#!/usr/bin/env bash
# Runs the runtime's unsafe and lock-free code under miri, with both of its
# aliasing models (Stacked Borrows, then Tree Borrows):
#   - the task module's unit tests (the harness, the state word, the waker);
#   - the run queue's, the inject queue's and the timer wheel's unit tests;
#   - runtime::sync's unit tests (the async Mutex's guards are unsafe code);
#   - runtime/tests/miri_runtime.rs: each runtime flavour end to end over the
#     real epoll reactor, eventfd and threads (spawn, steal, timers, abort,
#     spawn_blocking, shutdown).
# Isolation stays on: miri's virtual clock and its epoll/eventfd shims are all
# these tests need. Takes about a minute on a 2-core machine (plus a one-time
# sysroot build).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri.sh: installing the nightly toolchain's miri component"
  if ! rustup toolchain install nightly --profile minimal --component miri,rust-src; then
    # A machine that cannot download toolchains cannot run this check; say so
    # loudly rather than fail every CI run (MIRI_REQUIRED=1 makes it fatal).
    echo "miri.sh: SKIPPED: could not install miri on this machine" >&2
    [ "${MIRI_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
  fi
fi
cargo +nightly miri setup

for model in stacked tree; do
  flags="${MIRIFLAGS:-}"
  if [ "$model" = tree ]; then flags="$flags -Zmiri-tree-borrows"; fi
  echo "=== miri ($model borrows): task module"
  MIRIFLAGS="$flags" cargo +nightly miri test -q -p runtime --lib -- task::
  # The queue tests take task references out of the queue with `into_raw`
  # and never give them back (they only look at the ids): leaks by design of
  # the test, hence -Zmiri-ignore-leaks for this run only. The 100,000-timer
  # test is a scale test, too slow under miri; the wheel's logic is covered
  # by the others.
  echo "=== miri ($model borrows): run queue and timers"
  MIRIFLAGS="$flags -Zmiri-ignore-leaks" cargo +nightly miri test -q -p runtime --lib -- \
    executor::queue executor::inject reactor::timers --skip hundred_thousand_timers
  echo "=== miri ($model borrows): the crate's mutex (primitives::plain), the std socket view (net::fd), gathered writes (sys::socket)"
  MIRIFLAGS="$flags" cargo +nightly miri test -q -p runtime --lib -- primitives::plain net::fd sys::socket
  echo "=== miri ($model borrows): both runtime flavours end to end"
  MIRIFLAGS="$flags" cargo +nightly miri test -q -p runtime --test miri_runtime
  echo "=== miri ($model borrows): runtime::sync (the async Mutex's guards)"
  MIRIFLAGS="$flags" cargo +nightly miri test -q -p runtime --lib -- sync::
done
echo "miri.sh: no undefined behaviour found"
