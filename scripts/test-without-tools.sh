#!/usr/bin/env bash
# Runs `cargo test` the way a newcomer with only the Rust toolchain runs it:
# with a PATH that holds the toolchain, the C linker and a shell, and nothing
# else. socat, nc, wrk, valgrind, chromium, mdbook, python... are not on it, so
# a test that needs one of them and is not opt-in (#[ignore = "needs ..."])
# fails here instead of on the newcomer's machine.
#
# The PATH is a temporary directory of symlinks; before running the tests the
# script checks that each hidden program really cannot be found through it.
#
# Usage: scripts/test-without-tools.sh [ARGS for cargo test...]
#   e.g. scripts/test-without-tools.sh --no-fail-fast   # every test binary, even after a failure
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d "${TMPDIR:-/tmp}/toolchain-only-path.XXXXXX")
trap 'rm -rf "$bin"' EXIT

# The toolchain itself, straight from its sysroot (not rustup's proxies, which
# would find other toolchains and components through the real PATH).
sysroot=$(rustc --print sysroot)
for tool in cargo rustc rustdoc; do
  ln -s "$sysroot/bin/$tool" "$bin/$tool"
done
# What rustc needs to link, and what tests may start through a shell.
for tool in cc ld sh bash env; do
  path=$(command -v "$tool") || {
    echo "test-without-tools: $tool not found; the toolchain needs it" >&2
    exit 1
  }
  ln -s "$path" "$bin/$tool"
done

hidden=(socat nc netcat wrk valgrind chromium chromium-browser google-chrome
  mdbook mdbook-linkcheck2 mdbook-mermaid python3 curl rustup)
for tool in "${hidden[@]}"; do
  if found=$(PATH="$bin" command -v "$tool"); then
    echo "test-without-tools: $tool is still reachable ($found)" >&2
    exit 1
  fi
done
echo "test-without-tools: PATH=$bin holds only: $(ls "$bin" | tr '\n' ' ')"
echo "test-without-tools: not reachable through it: ${hidden[*]}"

PATH="$bin" cargo test "$@"
