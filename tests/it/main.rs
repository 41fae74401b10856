//! Integration tests: one binary, one module per topic.
//!
//! - `glob`: the selector against the official `@actions/glob` on the same trees.
//! - `action`: the binary run as the action runs it (`INPUT_*`, `$GITHUB_OUTPUT`, summary).
//! - `inputs`: every bad input gives exit 2, names the input, and writes nothing.
//! - `secrets`: the credential corpus and its verdicts; values never leak.
//! - `directory`: the directory destination, byte for byte, and its failure modes.

// Helpers are shared between the modules of one test binary; test data generators
// truncate on purpose.
#![allow(unreachable_pub, clippy::cast_possible_truncation)]

mod act;
mod action;
mod directory;
mod docs;
mod glob;
mod inputs;
mod pack;
mod secrets;
mod support;
