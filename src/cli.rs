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
}
