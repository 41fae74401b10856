//! Everything that knows about the GitHub Actions runner: the one place that reads the
//! process environment, and (in later stages) the API clients.

pub mod env;

pub use env::RunnerEnv;
