//! Integration tests: the real ralo server on loopback, a real in-process
//! upstream, a real DNS client. One test binary; helpers in `support` and
//! `ralo`.

#![allow(unreachable_pub)]

mod binary;
mod blocking;
mod browser;
mod cli_groups;
mod client_rules;
mod conditional;
mod corpus;
mod decision;
mod disk;
mod exchange;
mod faults;
mod forgery;
mod forwarding;
mod forwarding_encrypted;
mod fuzz_replay;
mod fuzz_seeds;
mod groups;
mod household;
mod hygiene;
mod limits;
mod malformed;
mod modifiers;
mod prefetch;
mod process;
mod qemu;
mod ralo;
mod regex;
mod rewrite;
mod sources;
mod support;
mod support_selftest;
mod tcp;
mod telemetry;
mod watchdog;
mod web;
