//! Integration tests: one binary, one module per topic.
//!
//! - `glob`: the selector against the official `@actions/glob` on the same trees.
//! - `action`: the binary run as the action runs it (`INPUT_*`, `$GITHUB_OUTPUT`, summary).
//! - `inputs`: every bad input gives exit 2, names the input, and writes nothing.
//! - `secrets`: the credential corpus and its verdicts; values never leak.
//! - `directory`: the directory destination, byte for byte, and its failure modes.

#![allow(unreachable_pub)] // helpers are shared between the modules of one test binary

mod glob;
mod support;
