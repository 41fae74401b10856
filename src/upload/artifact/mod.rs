//! The GitHub Actions artifact destination (issue 3). What exists so far: the results
//! service's identity ([`token`]) and message encoding ([`messages`]), and the zip writer
//! in `crate::pack`. The HTTP client, blob upload and the stage wiring come next.

pub mod messages;
pub mod token;
