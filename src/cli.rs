//! The command line: every input is a long flag of the same name. With no arguments the
//! binary reads `INPUT_*` instead (this is how `action.yml` runs it).

use clap::{Arg, ArgAction, Command};

use crate::config::{INPUTS, RawInputs};

/// The clap command built from the input table.
#[must_use]
pub fn command() -> Command {
    let mut cmd = Command::new("stevedore")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Select build outputs by glob, scan them (SHA-256, duplicates, credentials, size), and ship them")
        .after_help(
            "Without arguments, inputs are read from INPUT_<NAME> variables (GitHub Actions).\n\
             Exit codes: 0 success, 1 internal error, 2 bad input, 3 policy violation, 4 upload failed.",
        );
    for spec in INPUTS {
        let mut arg = Arg::new(spec.name)
            .long(spec.name)
            .value_name("VALUE")
            .help(spec.description);
        if spec.multi_line {
            arg = arg.action(ArgAction::Append);
        }
        if !spec.default.is_empty() {
            arg = arg.help(format!("{} [default: {}]", spec.description, spec.default));
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Parses arguments into raw inputs. Repeated multi-line flags become lines.
pub fn parse<I, T>(args: I) -> Result<RawInputs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let mut raw = RawInputs::default();
    for spec in INPUTS {
        if let Some(values) = matches.get_many::<String>(spec.name) {
            raw.set(spec.name, values.cloned().collect::<Vec<_>>().join("\n"));
        }
    }
    Ok(raw)
}

/// The `stevedore download` subcommand, built from its input table.
#[must_use]
pub fn download_command() -> Command {
    let mut cmd = Command::new("download")
        .bin_name("stevedore download")
        .about("Download workflow artifacts exactly: digest verified, modes restored, merged safely")
        .after_help(
            "Without flags, inputs are read from INPUT_<NAME> variables (download/action.yml).\n\
             Exit codes: 0 success, 1 internal error, 2 bad input, 4 download failed (`path` untouched).",
        );
    for spec in crate::download::DOWNLOAD_INPUTS {
        let help = if spec.default.is_empty() {
            spec.description.to_owned()
        } else {
            format!("{} [default: {}]", spec.description, spec.default)
        };
        cmd = cmd.arg(
            Arg::new(spec.name)
                .long(spec.name)
                .value_name("VALUE")
                .help(help),
        );
    }
    cmd
}

/// Parses `download [flags]` (the arguments from `download` on) into its raw inputs.
pub fn parse_download<I, T>(args: I) -> Result<crate::download::DownloadInputs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = download_command().try_get_matches_from(args)?;
    let mut raw = crate::download::DownloadInputs::default();
    for spec in crate::download::DOWNLOAD_INPUTS {
        if let Some(value) = matches.get_one::<String>(spec.name) {
            raw.set(spec.name, value.clone());
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_inputs() {
        let raw = parse([
            "stevedore",
            "--path",
            "a/*",
            "--path",
            "!a/x",
            "--if-no-files-found",
            "error",
        ])
        .expect("parses");
        assert_eq!(raw.get("path"), Some("a/*\n!a/x"));
        assert_eq!(raw.get("if-no-files-found"), Some("error"));
    }

    #[test]
    fn unknown_flags_are_refused() {
        assert!(parse(["stevedore", "--nope", "x"]).is_err());
    }

    #[test]
    fn download_flags_map_to_its_inputs() {
        let raw = parse_download(["download", "--name", "dist", "--merge-multiple", "true"])
            .expect("parses");
        assert_eq!(raw.get("name"), Some("dist"));
        assert_eq!(raw.get("merge-multiple"), Some("true"));
        assert!(parse_download(["download", "--destination", "x"]).is_err());
    }
}
