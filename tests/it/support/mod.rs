//! Shared helpers for the integration tests: a real upstream DNS server and a
//! real DNS client, both on loopback sockets bound to port 0.
//!
//! - [`upstream`]: an in-process authoritative server (hickory `Catalog`) that
//!   counts what it receives and can go silent, refuse or fail on demand.
//! - [`client`]: a stub client speaking DNS over UDP and TCP, plus raw-bytes
//!   senders for malformed input.
//! - [`pki`]: a throw-away CA and server certificates for DoT and DoH.
//! - [`dot_front`]: a DNS-over-TLS server that counts and kills connections.
#![allow(dead_code, unreachable_pub)]

pub mod client;
pub mod dot_front;
pub mod https;
pub mod pki;
pub mod scripted;
pub mod upstream;
