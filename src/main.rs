//! The `stevedore` binary: a thin shell over the library.

use std::process::ExitCode;
use std::sync::Arc;

use stevedore::config::RawInputs;
use stevedore::github::RunnerEnv;
use stevedore::report::log::{LogReporter, Mode, detect_mode};
use stevedore::run::{Invocation, run};

/// musl's malloc (the static Linux release binaries) takes one lock for every thread:
/// measured on `bench/artifact` (10,000 files, level 6) the musl build took 1.53x the gnu
/// build's time with it, 0.99x with mimalloc (jemalloc: 1.33x).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let env = RunnerEnv::from_process();
    let args: Vec<_> = std::env::args_os().collect();
    let inputs = if args.len() > 1 {
        match stevedore::cli::parse(args) {
            Ok(inputs) => inputs,
            Err(e) => {
                // --help and --version are not errors; clap picks the stream and code.
                let _ = e.print();
                let code = if e.use_stderr() {
                    stevedore::ExitCode::BadInput.code()
                } else {
                    0
                };
                return ExitCode::from(code);
            }
        }
    } else {
        RawInputs::from_env(&env)
    };
    let mode = detect_mode(env.github_actions);
    let out: Box<dyn std::io::Write + Send> = match mode {
        Mode::Actions => Box::new(std::io::stdout()),
        Mode::Terminal | Mode::Plain => Box::new(std::io::stderr()),
    };
    let log = Arc::new(LogReporter::new(mode, out));
    if env.runner_debug && mode == Mode::Actions {
        // Only a debug re-run pays for a subscriber. Installing fails only if one is
        // already installed, which nothing else in this process does.
        let _ = stevedore::report::diagnostics::install(log.clone());
    }
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            log.line(&format!("error: cannot read the working directory: {e}"));
            return ExitCode::from(stevedore::ExitCode::Internal.code());
        }
    };
    let code = run(&Invocation { env, inputs, cwd }, &log);
    ExitCode::from(code.code())
}
