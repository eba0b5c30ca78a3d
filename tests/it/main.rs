//! Integration tests: the real ralo server on loopback, a real in-process
//! upstream, a real DNS client. One test binary; helpers in `support` and
//! `ralo`.

#![allow(unreachable_pub)]

mod binary;
mod blocking;
mod exchange;
mod forwarding;
mod malformed;
mod process;
mod ralo;
mod sources;
mod support;
mod support_selftest;
