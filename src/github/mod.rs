//! Everything that knows about GitHub: the runner's environment (the one place that reads
//! the process environment), the REST API client (releases, check runs) and the
//! results-service client (artifacts).

pub(crate) mod api;
pub(crate) mod env;
pub(crate) mod results;

pub use env::RunnerEnv;
