//! Everything that knows about GitHub: the runner's environment (the one place that reads
//! the process environment) and the REST API client (releases, check runs).

pub mod api;
pub mod env;

pub use env::RunnerEnv;
