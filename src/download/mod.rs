//! The way back: artifacts downloaded, verified and restored exactly (issue 14).

pub mod extract;
