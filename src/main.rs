//! The `stevedore` binary: a thin shell over the library.

use std::process::ExitCode;
use std::sync::Arc;

use stevedore::cli::Parsed;
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
    if args.len() == 2 && args[1] == "download" {
        // How download/action.yml runs it: the inputs are in INPUT_*.
        let inputs = stevedore::download::DownloadInputs::from_env(&env);
        return download(env, inputs);
    }
    let inputs = if args.len() > 1 {
        match stevedore::cli::parse(args) {
            Ok(Parsed::Ship(inputs)) => inputs,
            Ok(Parsed::Verify(args)) => {
                // The report is the command's answer, so stdout, as `sha256sum -c` prints;
                // its progress line is redrawn only when stdout is a terminal.
                let mode = match detect_mode(env.github_actions) {
                    Mode::Actions => Mode::Actions,
                    _ if std::io::IsTerminal::is_terminal(&std::io::stdout()) => Mode::Terminal,
                    _ => Mode::Plain,
                };
                let log = LogReporter::new(mode, Box::new(std::io::stdout()));
                return ExitCode::from(stevedore::verify::run(&args, &log).code());
            }
            Ok(Parsed::Download(inputs)) => return download(env, inputs),
            Ok(Parsed::Completions(shell)) => {
                stevedore::cli::completions(shell, &mut std::io::stdout());
                return ExitCode::SUCCESS;
            }
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
        let inputs = RawInputs::from_env(&env);
        if !env.github_actions && inputs.get("path").is_none() {
            // A newcomer's first `stevedore`: how to use it, not a missing input.
            let mut err = std::io::stderr();
            let _ =
                std::io::Write::write_all(&mut err, stevedore::cli::first_run_usage().as_bytes());
            return ExitCode::from(stevedore::ExitCode::BadInput.code());
        }
        inputs
    };
    let Some((log, cwd)) = console(&env) else {
        return ExitCode::from(stevedore::ExitCode::Internal.code());
    };
    let code = run(&Invocation { env, inputs, cwd }, &log);
    ExitCode::from(code.code())
}

/// The log of a shipping or download run (stdout in Actions, where the runner reads
/// commands; stderr on a terminal) and the working directory; `None` (after saying why)
/// when the working directory cannot be read.
fn console(env: &RunnerEnv) -> Option<(Arc<LogReporter>, std::path::PathBuf)> {
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
    match std::env::current_dir() {
        Ok(cwd) => Some((log, cwd)),
        Err(e) => {
            log.line(&format!("error: cannot read the working directory: {e}"));
            None
        }
    }
}

/// `stevedore download`, with its inputs from flags or `INPUT_*`.
fn download(env: RunnerEnv, inputs: stevedore::download::DownloadInputs) -> ExitCode {
    let Some((log, cwd)) = console(&env) else {
        return ExitCode::from(stevedore::ExitCode::Internal.code());
    };
    let invocation = stevedore::run::DownloadInvocation { env, inputs, cwd };
    ExitCode::from(stevedore::run::run_download(&invocation, &log).code())
}
