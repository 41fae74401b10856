//! Everything that knows about GitHub: the runner's environment (the one place that reads
//! the process environment), the REST API client (releases, check runs) and the
//! artifact clients (the results service, and the pipelines service of the v3 protocol).

pub(crate) mod api;
pub(crate) mod env;
pub(crate) mod pipelines;
pub(crate) mod results;

pub use env::RunnerEnv;
