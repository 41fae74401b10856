//! The runner environment, read once.
//!
//! Every environment variable stevedore looks at is named here and read in
//! [`RunnerEnv::from_vars`]. Stages receive the parsed struct; nothing else calls
//! `std::env::var`, so tests build a `RunnerEnv` from a list and never touch the
//! process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::secret::Secret;

/// Names of the environment variables stevedore reads.
pub(crate) mod vars {
    /// `true` when running inside GitHub Actions.
    pub(crate) const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
    /// File that receives step outputs (`name<<delimiter` blocks).
    pub(crate) const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
    /// File that receives the job summary markdown.
    pub(crate) const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
    /// The checkout directory; annotations are relative to it.
    pub(crate) const GITHUB_WORKSPACE: &str = "GITHUB_WORKSPACE";
    /// The ref that triggered the run, e.g. `refs/tags/v1.2.3`.
    pub(crate) const GITHUB_REF: &str = "GITHUB_REF";
    /// Per-job temporary directory, emptied after the job.
    pub(crate) const RUNNER_TEMP: &str = "RUNNER_TEMP";
    /// Home directory, for `~` in patterns.
    pub(crate) const HOME: &str = "HOME";
    /// Home directory on Windows.
    pub(crate) const USERPROFILE: &str = "USERPROFILE";
    /// System temporary directory, used when `RUNNER_TEMP` is unset.
    pub(crate) const TMPDIR: &str = "TMPDIR";
    /// Where a user's caches go (XDG); `~/.cache` when unset.
    pub(crate) const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
    /// Where a Windows user's caches go.
    pub(crate) const LOCALAPPDATA: &str = "LOCALAPPDATA";
    /// The token `gh` reads first; the CLI's `token` when none is given.
    pub(crate) const GH_TOKEN: &str = "GH_TOKEN";
    /// The token `gh` reads second.
    pub(crate) const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
    /// Bearer token for the Actions results service (artifacts).
    pub(crate) const ACTIONS_RUNTIME_TOKEN: &str = "ACTIONS_RUNTIME_TOKEN";
    /// Base URL of the Actions results service; only its origin is used.
    pub(crate) const ACTIONS_RESULTS_URL: &str = "ACTIONS_RESULTS_URL";
    /// Base URL of the pipelines service: the v3 artifact protocol where no results
    /// service is given (GitHub Enterprise Server).
    pub(crate) const ACTIONS_RUNTIME_URL: &str = "ACTIONS_RUNTIME_URL";
    /// Per-request stall timeout for artifact blob uploads, in milliseconds.
    pub(crate) const ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: &str =
        "ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS";
    /// The longest retention the repository allows, in days.
    pub(crate) const GITHUB_RETENTION_DAYS: &str = "GITHUB_RETENTION_DAYS";
    /// `https://github.com` or the GHES / emulator host, for links.
    pub(crate) const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
    /// REST API base URL (`https://api.github.com`, or GHES / an emulator).
    pub(crate) const GITHUB_API_URL: &str = "GITHUB_API_URL";
    /// The commit the run is for (check runs attach to it).
    pub(crate) const GITHUB_SHA: &str = "GITHUB_SHA";
    /// `owner/repo`.
    pub(crate) const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
    /// The workflow run's id, for links.
    pub(crate) const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
    /// Which attempt of the run this is (1, then 2 on a re-run).
    pub(crate) const GITHUB_RUN_ATTEMPT: &str = "GITHUB_RUN_ATTEMPT";
    /// The run's number in its repository: Gitea's and Forgejo's pages name runs by it.
    pub(crate) const GITHUB_RUN_NUMBER: &str = "GITHUB_RUN_NUMBER";
    /// `true` on a Gitea runner (`act_runner`); Forgejo's runner sets it too.
    pub(crate) const GITEA_ACTIONS: &str = "GITEA_ACTIONS";
    /// `true` on a Forgejo runner.
    pub(crate) const FORGEJO_ACTIONS: &str = "FORGEJO_ACTIONS";
    /// S3 access key id.
    pub(crate) const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// S3 secret key.
    pub(crate) const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// S3 session token (temporary credentials).
    pub(crate) const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// S3 region.
    pub(crate) const AWS_REGION: &str = "AWS_REGION";
    /// S3 region, older name; `AWS_REGION` wins.
    pub(crate) const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// `1` when the run was started with debug logging ("Re-run jobs with debug logging").
    pub(crate) const RUNNER_DEBUG: &str = "RUNNER_DEBUG";
    /// Idle deadline of every HTTP request, in seconds (default 300).
    pub(crate) const STEVEDORE_HTTP_TIMEOUT: &str = "STEVEDORE_HTTP_TIMEOUT";
    /// Bytes of the compressed artifact held in memory before its spool file under
    /// `RUNNER_TEMP` is used: a size such as `256MiB` (default 64 MiB; `0` spools
    /// everything).
    pub(crate) const STEVEDORE_SPOOL_MEMORY: &str = "STEVEDORE_SPOOL_MEMORY";
    /// Prefix of every action input variable.
    pub(crate) const INPUT_PREFIX: &str = "INPUT_";
}

/// What stevedore needs from the environment, parsed once at start-up.
#[derive(Debug, Clone, Default)]
pub struct RunnerEnv {
    /// Running inside GitHub Actions (`GITHUB_ACTIONS=true`).
    pub github_actions: bool,
    /// `$GITHUB_OUTPUT`, when set and non-empty.
    pub(crate) output_file: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, when set and non-empty.
    pub(crate) summary_file: Option<PathBuf>,
    /// `$GITHUB_WORKSPACE`.
    pub(crate) workspace: Option<PathBuf>,
    /// `$GITHUB_REF`.
    pub(crate) git_ref: Option<String>,
    /// `$RUNNER_TEMP`.
    pub runner_temp: Option<PathBuf>,
    /// `$TMPDIR`.
    pub(crate) tmpdir: Option<PathBuf>,
    /// `$XDG_CACHE_HOME` (or `%LOCALAPPDATA%` on Windows).
    pub(crate) cache_home: Option<PathBuf>,
    /// `$HOME` (or `%USERPROFILE%`).
    pub(crate) home: Option<PathBuf>,
    /// `$ACTIONS_RUNTIME_TOKEN`.
    pub(crate) runtime_token: Option<Secret>,
    /// `$ACTIONS_RESULTS_URL`.
    pub(crate) results_url: Option<String>,
    /// `$ACTIONS_RUNTIME_URL`.
    pub(crate) runtime_url: Option<String>,
    /// `$ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS`, when a positive number.
    pub(crate) artifact_upload_timeout_ms: Option<u64>,
    /// `$GITHUB_RETENTION_DAYS`, when a number.
    pub(crate) retention_days: Option<u32>,
    /// `$GITHUB_SERVER_URL`.
    pub(crate) server_url: Option<String>,
    /// `$GITHUB_API_URL` as set; [`RunnerEnv::api_url`] supplies the default.
    pub(crate) api_url: Option<String>,
    /// `$GITHUB_SHA`.
    pub(crate) sha: Option<String>,
    /// `$GITHUB_REPOSITORY`.
    pub(crate) repository: Option<String>,
    /// `$GITHUB_RUN_ID`.
    pub(crate) run_id: Option<String>,
    /// `$GITHUB_RUN_ATTEMPT`.
    pub(crate) run_attempt: Option<u32>,
    /// `$GITHUB_RUN_NUMBER`.
    pub(crate) run_number: Option<String>,
    /// Running on Gitea or Forgejo (`GITEA_ACTIONS` or `FORGEJO_ACTIONS` is `true`), whose
    /// web pages are shaped differently from GitHub's.
    pub(crate) gitea: bool,
    /// `$AWS_ACCESS_KEY_ID`.
    pub(crate) aws_access_key_id: Option<String>,
    /// `$AWS_SECRET_ACCESS_KEY`.
    pub(crate) aws_secret_access_key: Option<Secret>,
    /// `$AWS_SESSION_TOKEN`.
    pub(crate) aws_session_token: Option<Secret>,
    /// `$AWS_REGION`, else `$AWS_DEFAULT_REGION`.
    pub(crate) aws_region: Option<String>,
    /// `RUNNER_DEBUG=1`: the runner shows `::debug::` lines, so stevedore writes its
    /// diagnostics (stage timings, every request attempt) as such lines. Exactly `1`, as
    /// `@actions/core`'s `isDebug()` reads it.
    pub runner_debug: bool,
    /// `$STEVEDORE_HTTP_TIMEOUT`, as written (validated by the destinations that use it).
    pub(crate) http_timeout: Option<String>,
    /// `$STEVEDORE_SPOOL_MEMORY`, as written (validated by the artifact destination).
    pub(crate) spool_memory: Option<String>,
    /// `$GH_TOKEN`, else `$GITHUB_TOKEN`, as `gh` reads them: the command line's token
    /// when `--token` is not given (never read in a workflow: there the action passes
    /// `token` itself).
    pub(crate) gh_token: Option<Secret>,
    /// Every `INPUT_<NAME>` variable, keyed by `<NAME>` as it appears (upper case, `_`).
    pub(crate) inputs: BTreeMap<String, String>,
}

/// Where a run's documents go (see [`RunnerEnv::documents_dir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DocumentsDir {
    /// A new directory of this run's.
    Fresh(PathBuf),
    /// The directory every run on this machine replaces.
    LastRun(PathBuf),
}

impl DocumentsDir {
    /// The directory.
    #[must_use]
    pub(crate) fn path(&self) -> &std::path::Path {
        match self {
            DocumentsDir::Fresh(p) | DocumentsDir::LastRun(p) => p,
        }
    }
}

/// The REST API of github.com, for runs outside a runner (a runner always sets
/// `GITHUB_API_URL`, to this or to its GHES host).
const DEFAULT_API_URL: &str = "https://api.github.com";

impl RunnerEnv {
    /// The REST API base URL every GitHub call starts from: `$GITHUB_API_URL`, else
    /// github.com's. One place, so releases and check runs never disagree about the host.
    #[must_use]
    pub(crate) fn api_url(&self) -> &str {
        self.api_url.as_deref().unwrap_or(DEFAULT_API_URL)
    }

    /// Where stevedore writes its manifest and checksums: `RUNNER_TEMP`, else `TMPDIR`,
    /// else the platform default.
    #[must_use]
    pub(crate) fn temp_dir(&self) -> PathBuf {
        self.runner_temp
            .clone()
            .or_else(|| self.tmpdir.clone())
            .unwrap_or_else(|| {
                PathBuf::from(if cfg!(windows) {
                    "C:\\Windows\\Temp"
                } else {
                    "/tmp"
                })
            })
    }

    /// Where this run writes its checksums file and manifest. In a job, a fresh directory
    /// under `RUNNER_TEMP` (the runner empties it after the job; the outputs name it). On a
    /// laptop there is no such cleaning, and one fresh directory per run piled up in the
    /// system temporary directory: there, one directory that every run replaces,
    /// `<cache>/stevedore/last-run` (`$XDG_CACHE_HOME`, else `~/.cache`; `%LOCALAPPDATA%`
    /// on Windows), so the last run's documents stay findable and nothing accumulates.
    #[must_use]
    pub(crate) fn documents_dir(&self) -> DocumentsDir {
        let fresh = |base: PathBuf| {
            DocumentsDir::Fresh(
                base.join(format!("stevedore-{}", &crate::secret::random_hex()[..12])),
            )
        };
        if let Some(temp) = &self.runner_temp {
            return fresh(temp.clone());
        }
        let cache = self.cache_home.clone().or_else(|| {
            self.home.as_ref().map(|home| {
                if cfg!(windows) {
                    home.join("AppData").join("Local")
                } else {
                    home.join(".cache")
                }
            })
        });
        match cache {
            Some(cache) => DocumentsDir::LastRun(cache.join("stevedore").join("last-run")),
            None => fresh(self.temp_dir()),
        }
    }

    /// Reads the real process environment.
    #[must_use]
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars_os())
    }

    /// Builds the environment from `(name, value)` pairs. Non-UTF-8 values are ignored,
    /// as no variable stevedore reads can meaningfully hold one.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut env = RunnerEnv::default();
        for (key, value) in vars {
            let (Ok(key), Ok(value)) = (key.into().into_string(), value.into().into_string())
            else {
                continue;
            };
            if let Some(name) = key.strip_prefix(vars::INPUT_PREFIX) {
                env.inputs.insert(name.to_owned(), value);
                continue;
            }
            let non_empty = || (!value.is_empty()).then(|| value.clone());
            match key.as_str() {
                vars::GITHUB_ACTIONS => env.github_actions = value == "true",
                vars::GITHUB_OUTPUT => env.output_file = non_empty().map(PathBuf::from),
                vars::GITHUB_STEP_SUMMARY => env.summary_file = non_empty().map(PathBuf::from),
                vars::GITHUB_WORKSPACE => env.workspace = non_empty().map(PathBuf::from),
                vars::GITHUB_REF => env.git_ref = non_empty(),
                vars::RUNNER_TEMP => env.runner_temp = non_empty().map(PathBuf::from),
                vars::TMPDIR => env.tmpdir = non_empty().map(PathBuf::from),
                vars::XDG_CACHE_HOME if !cfg!(windows) => {
                    env.cache_home = non_empty().map(PathBuf::from);
                }
                vars::LOCALAPPDATA if cfg!(windows) => {
                    env.cache_home = non_empty().map(PathBuf::from);
                }
                vars::HOME => env.home = non_empty().map(PathBuf::from),
                vars::ACTIONS_RUNTIME_TOKEN => env.runtime_token = non_empty().map(Secret::new),
                vars::ACTIONS_RESULTS_URL => env.results_url = non_empty(),
                vars::ACTIONS_RUNTIME_URL => env.runtime_url = non_empty(),
                vars::ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS => {
                    env.artifact_upload_timeout_ms =
                        value.trim().parse().ok().filter(|&ms: &u64| ms > 0);
                }
                vars::STEVEDORE_HTTP_TIMEOUT => env.http_timeout = non_empty(),
                vars::STEVEDORE_SPOOL_MEMORY => env.spool_memory = non_empty(),
                vars::GH_TOKEN if non_empty().is_some() => {
                    env.gh_token = non_empty().map(Secret::new);
                }
                vars::GITHUB_TOKEN if env.gh_token.is_none() => {
                    env.gh_token = non_empty().map(Secret::new);
                }
                vars::RUNNER_DEBUG => env.runner_debug = value == "1",
                vars::GITHUB_RETENTION_DAYS => env.retention_days = value.trim().parse().ok(),
                vars::GITHUB_SERVER_URL => env.server_url = non_empty(),
                vars::GITHUB_REPOSITORY => env.repository = non_empty(),
                vars::GITHUB_API_URL => env.api_url = non_empty(),
                vars::GITHUB_SHA => env.sha = non_empty(),
                vars::GITHUB_RUN_ID => env.run_id = non_empty(),
                vars::GITHUB_RUN_ATTEMPT => env.run_attempt = value.trim().parse().ok(),
                vars::GITHUB_RUN_NUMBER => env.run_number = non_empty(),
                vars::GITEA_ACTIONS | vars::FORGEJO_ACTIONS => env.gitea |= value == "true",
                vars::AWS_ACCESS_KEY_ID => env.aws_access_key_id = non_empty(),
                vars::AWS_SECRET_ACCESS_KEY => {
                    env.aws_secret_access_key = non_empty().map(Secret::new);
                }
                vars::AWS_SESSION_TOKEN => env.aws_session_token = non_empty().map(Secret::new),
                vars::AWS_REGION => env.aws_region = non_empty().or(env.aws_region.take()),
                vars::AWS_DEFAULT_REGION if env.aws_region.is_none() => {
                    env.aws_region = non_empty();
                }
                vars::USERPROFILE if env.home.is_none() => {
                    env.home = non_empty().map(PathBuf::from);
                }
                _ => {}
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inputs_and_runner_files() {
        let env = RunnerEnv::from_vars([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", "/tmp/out"),
            ("GITHUB_STEP_SUMMARY", ""),
            ("INPUT_IF_NO_FILES_FOUND", "error"),
            ("HOME", "/home/u"),
        ]);
        assert!(env.github_actions);
        assert_eq!(env.output_file, Some(PathBuf::from("/tmp/out")));
        assert_eq!(env.summary_file, None, "an empty variable counts as unset");
        assert_eq!(env.inputs["IF_NO_FILES_FOUND"], "error");
        assert_eq!(env.home, Some(PathBuf::from("/home/u")));
        assert!(!env.runner_debug);
    }

    #[test]
    fn debug_logging_is_exactly_one() {
        for (value, on) in [("1", true), ("true", false), ("0", false), ("", false)] {
            let env = RunnerEnv::from_vars([("RUNNER_DEBUG", value)]);
            assert_eq!(env.runner_debug, on, "RUNNER_DEBUG={value:?}");
        }
    }

    #[test]
    fn the_api_url_defaults_to_github_com() {
        assert_eq!(RunnerEnv::default().api_url(), "https://api.github.com");
        let ghes = RunnerEnv::from_vars([("GITHUB_API_URL", "https://ghe.example/api/v3")]);
        assert_eq!(ghes.api_url(), "https://ghe.example/api/v3");
    }
}
