//! Integration tests: each test starts the real `airlock` binary on 127.0.0.1:0 with
//! its own temporary data directory and talks HTTP to it.

mod harness;
mod network;

mod attacks;
mod audit;
mod bad_input;
mod cli;
mod conformance;
mod crash;
mod directory;
mod gc;
mod mtls;
mod scan;
mod scanning;
mod service_tokens;
mod token_auth;
