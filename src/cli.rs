//! The command line. The root command ships files: every input is a long flag of the same
//! name, boolean inputs are switches (`--overwrite` alone means true; `--overwrite false`
//! and `--overwrite=false` still work), and positional arguments are `path` lines. With
//! no arguments at all the binary reads `INPUT_*` instead (this is how `action.yml` runs
//! it; `main.rs` decides). Subcommands: `verify`, `completions` and `download` (its own
//! input table, `download::DOWNLOAD_INPUTS`).
//!
//! Adding a subcommand that takes inputs (`stevedore download`): give it its own input
//! table (`InputSpec`s; `RawInputs::set` checks names against `INPUTS` in debug builds,
//! so that check must learn the new table), build its `Command` with [`input_args`], let
//! `switch_table` return that table for its name (so its switches take values the same
//! way), add a `Parsed` variant and a `parse` arm reading its matches with a table-driven
//! twin of `ship_inputs`. `main.rs` reads `INPUT_*` instead when the subcommand's name is
//! the only argument.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use clap_complete::Shell;

use crate::config::{INPUTS, InputSpec, RawInputs};
use crate::download::{DOWNLOAD_INPUTS, DownloadInputs};
use crate::verify::{DEFAULT_CHECKSUMS, DEFAULT_MANIFEST, ListChoice, VerifyArgs};

/// Id of the root command's positional paths (not an input name: `path` is the flag).
const PATHS: &str = "PATHS";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Ship files (the root command), with the inputs given as flags and positionals.
    Ship(RawInputs),
    /// `stevedore verify DIR`.
    Verify(VerifyArgs),
    /// `stevedore completions SHELL`: print the completion script for that shell.
    Completions(Shell),
    /// `stevedore download [flags]`, with the inputs given as flags.
    Download(DownloadInputs),
}

/// The clap command: the root (ship) with its input flags, and the subcommands.
#[must_use]
pub(crate) fn command() -> Command {
    let cmd = Command::new("stevedore")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Select build outputs by glob, scan them (SHA-256, duplicates, credentials, size), and ship them")
        .override_usage(
            "stevedore [OPTIONS] [PATH]...\n       stevedore verify [OPTIONS] <DIR>\n       stevedore download [OPTIONS]\n       stevedore completions <SHELL>",
        )
        // `stevedore --path x verify` is a mistake, not a path named `verify`.
        .args_conflicts_with_subcommands(true)
        // `stevedore help` is what a newcomer types first: help, not a glob that matches
        // nothing (a path named `help` is `./help`).
        .subcommand(verify_command())
        .subcommand(download_command())
        .subcommand(completions_command())
        .after_help(
            "Without arguments, inputs are read from INPUT_<NAME> variables (GitHub Actions).\n\
             Boolean inputs are switches: --overwrite means --overwrite true.\n\
             A path named like a subcommand (verify, download, completions, help) is given as ./verify or --path verify.\n\
             Exit codes: 0 success, 1 internal error, 2 bad input, 3 policy violation (verify: not intact), 4 upload failed.",
        )
        .arg(
            Arg::new(PATHS)
                .value_name("PATH")
                .num_args(1..)
                .action(ArgAction::Append)
                .help("Files to ship: globs, as `path` lines (after any --path lines)"),
        );
    input_args(cmd, INPUTS)
}

/// Adds one long flag per input of `table`: multi-line inputs repeat, booleans are
/// switches that take an optional `=VALUE`.
#[must_use]
pub(crate) fn input_args(mut cmd: Command, table: &'static [InputSpec]) -> Command {
    for spec in table {
        let mut arg = Arg::new(spec.name).long(spec.name).help(spec.description);
        if spec.boolean {
            // `--x value` (a boolean literal) is joined into `--x=value` by
            // `join_switch_values`, so any other following word stays a positional.
            arg = arg
                .value_name("BOOL")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true");
        } else {
            arg = arg.value_name("VALUE");
        }
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

fn verify_command() -> Command {
    Command::new("verify")
        .about("Check that a directory holds exactly the files of a checksums file or a stevedore manifest")
        .long_about(format!(
            "Check that a directory holds exactly the files its lists name: sha256sum-style \
             checksums files (`<hex>  name`, ` *name`, GNU `\\` escapes, `SHA256 (name) = <hex>`) or \
             stevedore manifests (size, SHA-256, mode and links kept with `symlinks: preserve`). \
             Files are hashed in parallel. Every missing, extra (present but not listed, hidden \
             files included) and changed file is named. Without --checksums or --manifest, \
             DIR/{DEFAULT_MANIFEST} is used, else the manifests of a job-key layout \
             (DIR/stevedore-manifest-<key>.json), else DIR/{DEFAULT_CHECKSUMS}, else \
             DIR/{DEFAULT_CHECKSUMS}-<key>. The lists and the documents written with them are \
             not counted as extra."
        ))
        .after_help(
            "Symbolic links are not followed: a listed link is changed (unless a manifest records that link), an unlisted one extra.\n\
             Listed paths that leave DIR (absolute, `..`) are refused.\n\
             Exit codes: 0 intact, 3 missing, extra or changed files, 2 bad arguments or an unreadable list.",
        )
        .arg(
            Arg::new("dir")
                .value_name("DIR")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help("The directory to check"),
        )
        .arg(
            Arg::new("checksums")
                .long("checksums")
                .value_name("FILE")
                .action(ArgAction::Append)
                .value_parser(value_parser!(PathBuf))
                .help("A checksums file in sha256sum format (repeat for several, checked together)"),
        )
        .arg(
            Arg::new("manifest")
                .long("manifest")
                .value_name("FILE")
                .action(ArgAction::Append)
                .value_parser(value_parser!(PathBuf))
                .help("A stevedore manifest (stevedore-manifest.json); also checks sizes, modes and links (repeat for several)"),
        )
        .arg(
            Arg::new("ignore-missing")
                .long("ignore-missing")
                .action(ArgAction::SetTrue)
                .help("Listed files that are absent are no failure (as sha256sum -c --ignore-missing)"),
        )
        .arg(
            Arg::new("no-modes")
                .long("no-modes")
                .action(ArgAction::SetTrue)
                .help("Do not compare Unix modes (they do not survive S3, HTTP or cp under umask 077)"),
        )
}

fn download_command() -> Command {
    let cmd = Command::new("download")
        .about("Download workflow artifacts exactly: digest verified, modes restored, merged safely")
        .after_help(
            "Without flags, inputs are read from INPUT_<NAME> variables (download/action.yml).\n\
             Exit codes: 0 success, 1 internal error, 2 bad input, 4 download failed (`path` untouched).",
        );
    input_args(cmd, DOWNLOAD_INPUTS)
}

fn completions_command() -> Command {
    Command::new("completions")
        .about("Print the shell completion script for stevedore")
        .after_help("bash: stevedore completions bash > ~/.local/share/bash-completion/completions/stevedore")
        .arg(
            Arg::new("shell")
                .value_name("SHELL")
                .required(true)
                .value_parser(value_parser!(Shell)),
        )
}

/// Parses arguments (the binary's name first). A word after a boolean switch that is
/// neither a boolean, nor a glob, nor an existing file is refused (see [`parse_with`]).
pub fn parse<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    parse_with(args, &|word| {
        std::path::Path::new(word).symlink_metadata().is_ok()
    })
}

/// [`parse`], with `exists` saying whether a word names a file (relative to the working
/// directory): `stevedore build --overwrite yes` would otherwise add the path `yes`, match
/// nothing, move the root up and ship every file under a `build/` prefix, with exit 0.
pub(crate) fn parse_with<I, T>(
    args: I,
    exists: &dyn Fn(&str) -> bool,
) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = join_switch_values(args.into_iter().map(Into::into).collect(), exists)?;
    let matches = command().try_get_matches_from(args)?;
    Ok(match matches.subcommand() {
        Some(("verify", m)) => Parsed::Verify(verify_args(m)),
        Some(("download", m)) => Parsed::Download(download_inputs(m)),
        Some(("completions", m)) => {
            Parsed::Completions(m.get_one::<Shell>("shell").copied().unwrap_or(Shell::Bash))
        }
        _ => Parsed::Ship(ship_inputs(&matches)),
    })
}

/// What a bare `stevedore` on a terminal prints (outside Actions, with no `INPUT_PATH`): a
/// short way in, not "input `path` is required".
#[must_use]
pub fn first_run_usage() -> String {
    format!(
        "stevedore {}: select build outputs by glob, scan them (SHA-256, duplicates, credentials, size) and ship them.

Usage: stevedore [OPTIONS] [PATH]...

Examples:
  stevedore 'dist/*'                             scan and list; nothing is shipped (a dry run)
  stevedore 'dist/*' --destination ./out         copy with SHA256SUMS and a manifest
  stevedore dist --destination s3://bucket/path  upload (credentials from AWS_* variables)
  stevedore verify ./out                         check a tree against its SHA256SUMS
  stevedore download --name dist --path out      fetch an artifact (in a workflow run)

Every input of the action is a flag: stevedore --help lists them; stevedore help verify.
",
        env!("CARGO_PKG_VERSION")
    )
}

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut command(), "stevedore", out);
}

/// Raw inputs of the root command: repeated multi-line flags become lines, positional
/// paths follow the `--path` lines.
fn ship_inputs(matches: &ArgMatches) -> RawInputs {
    let mut raw = RawInputs::default();
    for spec in INPUTS {
        let mut values: Vec<String> = matches
            .get_many::<String>(spec.name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        if spec.name == "path"
            && let Some(positional) = matches.get_many::<String>(PATHS)
        {
            values.extend(positional.cloned());
        }
        if !values.is_empty() {
            raw.set(spec.name, values.join("\n"));
        }
    }
    raw
}

/// Raw inputs of `download`, table-driven as [`ship_inputs`].
fn download_inputs(matches: &ArgMatches) -> DownloadInputs {
    let mut raw = DownloadInputs::default();
    for spec in DOWNLOAD_INPUTS {
        if let Some(value) = matches.get_one::<String>(spec.name) {
            raw.set(spec.name, value.clone());
        }
    }
    raw
}

fn verify_args(m: &ArgMatches) -> VerifyArgs {
    let paths = |id: &str| {
        m.get_many::<PathBuf>(id)
            .map(|v| v.cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut lists: Vec<ListChoice> = paths("checksums")
        .into_iter()
        .map(ListChoice::Checksums)
        .collect();
    lists.extend(paths("manifest").into_iter().map(ListChoice::Manifest));
    VerifyArgs {
        dir: m.get_one::<PathBuf>("dir").cloned().unwrap_or_default(),
        lists,
        ignore_missing: m.get_flag("ignore-missing"),
        modes: !m.get_flag("no-modes"),
    }
}

/// The input table whose switches apply after `word`, when `word` starts a subcommand.
/// `None`: not a subcommand. The table of a subcommand without inputs is empty.
fn switch_table(word: &str) -> Option<&'static [InputSpec]> {
    match word {
        "verify" | "completions" => Some(&[]),
        "download" => Some(DOWNLOAD_INPUTS),
        _ => None,
    }
}

/// Rewrites `--switch VALUE` as `--switch=VALUE` when VALUE is a boolean literal (any
/// spelling `config`'s boolean parser accepts) or empty, so that clap, which takes a switch's value
/// only after `=`, reads it; any other word after a switch stays a positional, unless it
/// can only be a mistyped value ([`mistaken_value`]). Values of other flags are skipped
/// (`--name --overwrite` keeps `--overwrite` as the value clap then judges). Nothing after
/// `--` is touched.
fn join_switch_values(
    args: Vec<OsString>,
    exists: &dyn Fn(&str) -> bool,
) -> Result<Vec<OsString>, clap::Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.into_iter().peekable();
    out.extend(args.next());
    // Only the first argument names a subcommand: after a flag, clap reads any word as
    // a positional path.
    let table = match args
        .peek()
        .and_then(|first| first.to_str())
        .map(switch_table)
    {
        Some(Some(sub)) => sub,
        _ => INPUTS,
    };
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        if let Some(name) = text.strip_prefix("--")
            && let Some(spec) = table.iter().find(|s| s.name == name)
        {
            let literal = args
                .peek()
                .and_then(|next| next.to_str())
                .filter(|next| spec.takes_as_switch_value(next))
                .map(str::to_owned);
            match (spec.boolean, literal) {
                (true, Some(value)) => {
                    args.next();
                    out.push(format!("--{name}={value}").into());
                }
                (true, None) => {
                    if let Some(word) = args.peek().and_then(|next| next.to_str())
                        && let Some(message) = mistaken_value(name, word, exists)
                    {
                        return Err(command().error(clap::error::ErrorKind::InvalidValue, message));
                    }
                    out.push(arg);
                }
                (false, _) => {
                    out.push(arg);
                    out.extend(args.next());
                }
            }
            continue;
        }
        out.push(arg);
    }
    Ok(out)
}

/// The message for a word after the switch `--name` that looks meant as its value: not a
/// flag, not a glob or path-shaped pattern, and naming no file.
fn mistaken_value(name: &str, word: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    let path_shaped = word.starts_with(['-', '!', '~', '.'])
        || word.contains(['/', '\\', '*', '?', '[', '{'])
        || exists(word);
    if path_shaped {
        return None;
    }
    let meant = match word.to_ascii_lowercase().as_str() {
        "yes" | "y" | "on" | "1" | "enable" | "enabled" => format!("`--{name}=true`"),
        "no" | "n" | "off" | "0" | "disable" | "disabled" => format!("`--{name}=false`"),
        _ => format!("`--{name}` (true) or `--{name}=false`"),
    };
    Some(format!(
        "`--{name}` is a switch and takes only true or false; `{word}` after it would be a path to ship, and no file `{word}` exists. Did you mean {meant}? (A path of that name is written `./{word}`.)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed as if every word named an existing file.
    fn ship(args: &[&str]) -> RawInputs {
        match parse_with(args.iter().copied(), &|_| true) {
            Ok(Parsed::Ship(raw)) => raw,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn a_word_after_a_switch_that_names_no_file_is_refused_as_a_mistyped_value() {
        let none = |_: &str| false;
        for (args, meant) in [
            (
                &["stevedore", "build", "--overwrite", "yes"][..],
                "`--overwrite=true`",
            ),
            (&["stevedore", "--draft", "off", "d"][..], "`--draft=false`"),
            (
                &["stevedore", "--overwrite", "build"][..],
                "`--overwrite` (true) or `--overwrite=false`",
            ),
            (
                &["stevedore", "download", "--merge-multiple", "y"][..],
                "`--merge-multiple=true`",
            ),
        ] {
            let e = parse_with(args.iter().copied(), &none).expect_err("refused");
            assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
            let text = e.to_string();
            assert!(text.contains(meant), "{args:?}: {text}");
        }
        // Globs, path-shaped words and existing files stay paths.
        for word in ["dist/*", "./yes", "out/", "*.tar.gz", "!x", "~/dist"] {
            let parsed = parse_with(["stevedore", "--overwrite", word], &none);
            assert!(matches!(parsed, Ok(Parsed::Ship(_))), "{word}: {parsed:?}");
        }
        let exists = |w: &str| w == "build";
        assert!(matches!(
            parse_with(["stevedore", "--overwrite", "build"], &exists),
            Ok(Parsed::Ship(_))
        ));
    }

    #[test]
    fn help_is_a_subcommand() {
        let e = parse(["stevedore", "help"]).expect_err("help is printed, not parsed");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let e = parse(["stevedore", "help", "verify"]).expect_err("help");
        assert!(e.to_string().contains("stevedore verify"), "{e}");
    }

    #[test]
    fn flags_map_to_inputs() {
        let raw = ship(&[
            "stevedore",
            "--path",
            "a/*",
            "--path",
            "!a/x",
            "--if-no-files-found",
            "error",
        ]);
        assert_eq!(raw.get("path"), Some("a/*\n!a/x"));
        assert_eq!(raw.get("if-no-files-found"), Some("error"));
    }

    #[test]
    fn unknown_flags_are_refused() {
        assert!(parse(["stevedore", "--nope", "x"]).is_err());
    }

    #[test]
    fn switches_take_a_boolean_literal_and_nothing_else() {
        assert_eq!(
            ship(&["stevedore", "--overwrite"]).get("overwrite"),
            Some("true")
        );
        for value in ["false", "False", "FALSE", "true"] {
            let raw = ship(&["stevedore", "--overwrite", value, "d"]);
            assert_eq!(raw.get("overwrite"), Some(value));
            assert_eq!(raw.get("path"), Some("d"));
            let joined = format!("--overwrite={value}");
            assert_eq!(ship(&["stevedore", &joined]).get("overwrite"), Some(value));
        }
        // An empty value is unset (the default), as before switches existed.
        let raw = ship(&["stevedore", "--overwrite", "", "d"]);
        assert_eq!(raw.get("overwrite"), None);
        assert_eq!(raw.get("path"), Some("d"));
        let raw = ship(&["stevedore", "--overwrite", "dist/*", "--draft"]);
        assert_eq!(raw.get("overwrite"), Some("true"));
        assert_eq!(raw.get("draft"), Some("true"));
        assert_eq!(raw.get("path"), Some("dist/*"));
        // A value-taking flag keeps its value even when it reads like a boolean.
        let raw = ship(&["stevedore", "--name", "true", "--summary", "false"]);
        assert_eq!(raw.get("name"), Some("true"));
        assert_eq!(raw.get("summary"), Some("false"));
        assert!(raw.get("path").is_none());
    }

    #[test]
    fn positional_paths_follow_path_flags() {
        let raw = ship(&["stevedore", "b/*", "--path", "a/*", "!b/x", "--", "-odd"]);
        assert_eq!(raw.get("path"), Some("a/*\nb/*\n!b/x\n-odd"));
    }

    #[test]
    fn subcommands() {
        assert_eq!(
            parse(["stevedore", "verify", "out", "--manifest", "m.json"]).expect("parses"),
            Parsed::Verify(VerifyArgs {
                lists: vec![ListChoice::Manifest("m.json".into())],
                ..VerifyArgs::new("out".into())
            })
        );
        assert_eq!(
            parse([
                "stevedore",
                "verify",
                "o",
                "--checksums",
                "a",
                "--manifest",
                "b",
                "--ignore-missing",
                "--no-modes"
            ])
            .expect("parses"),
            Parsed::Verify(VerifyArgs {
                lists: vec![
                    ListChoice::Checksums("a".into()),
                    ListChoice::Manifest("b".into())
                ],
                ignore_missing: true,
                modes: false,
                ..VerifyArgs::new("o".into())
            })
        );
        assert_eq!(
            parse(["stevedore", "completions", "zsh"]).expect("parses"),
            Parsed::Completions(Shell::Zsh)
        );
        // A path named like a subcommand.
        assert_eq!(
            ship(&["stevedore", "./verify"]).get("path"),
            Some("./verify")
        );
        assert_eq!(
            ship(&["stevedore", "--path", "verify"]).get("path"),
            Some("verify")
        );
        // Only the first argument names a subcommand, as clap reads it.
        assert_eq!(
            ship(&["stevedore", "--overwrite", "verify", "--draft", "false"]).get("path"),
            Some("verify")
        );
        assert_eq!(
            ship(&["stevedore", "--overwrite", "verify", "--draft", "false"]).get("draft"),
            Some("false")
        );
    }

    #[test]
    fn download_flags_map_to_its_inputs_and_its_booleans_are_switches() {
        let Ok(Parsed::Download(raw)) = parse([
            "stevedore",
            "download",
            "--name",
            "dist",
            "--merge-multiple",
        ]) else {
            panic!("a download");
        };
        assert_eq!(raw.get("name"), Some("dist"));
        assert_eq!(raw.get("merge-multiple"), Some("true"));
        let Ok(Parsed::Download(raw)) = parse([
            "stevedore",
            "download",
            "--merge-multiple",
            "false",
            "--pattern",
            "a*",
        ]) else {
            panic!("a download");
        };
        assert_eq!(raw.get("merge-multiple"), Some("false"));
        assert_eq!(raw.get("pattern"), Some("a*"));
        assert!(parse(["stevedore", "download", "--destination", "x"]).is_err());
    }
}
