//! Inputs -> [`Config`]: every input validated once into typed values.
//!
//! All bad inputs are collected, not just the first, so one failed run tells the user
//! everything to fix. Inputs of destinations that are not built yet are validated too.

mod destination;
pub mod inputs;
mod value;

use std::fmt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

pub use destination::Destination;
pub use inputs::{INPUTS, InputSpec, RawInputs};

use crate::secret::Secret;
use value::{name_problem, parse_bool, parse_choice, parse_int, parse_size};

/// What to do when `path` matches nothing (upload-artifact's `if-no-files-found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfNoFilesFound {
    /// Warn and succeed.
    Warn,
    /// Fail with a policy violation.
    Error,
    /// Succeed quietly.
    Ignore,
}

/// How to treat credential findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    /// Findings stop the run before any upload.
    Error,
    /// Findings are reported; the run continues.
    Warn,
    /// No scan.
    Off,
}

/// How to treat files with identical content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicatesMode {
    /// Report duplicate groups as warnings.
    Warn,
    /// Duplicate groups stop the run.
    Error,
    /// Report them only in the summary and manifest.
    Ignore,
}

/// `make-latest` of the releases API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MakeLatest {
    /// Mark as latest.
    True,
    /// Do not mark as latest.
    False,
    /// Latest by creation date and semantic version (GitHub's default).
    Legacy,
}

/// Artifact-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactOptions {
    /// Artifact name.
    pub name: String,
    /// Retention in days; `None` uses the repository default.
    pub retention_days: Option<u32>,
    /// Deflate level 0-9.
    pub compression_level: u32,
    /// `false`: every file becomes its own unzipped artifact.
    pub archive: bool,
}

/// Release-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOptions {
    /// Tag; `None` uses the tag of `GITHUB_REF`.
    pub tag: Option<String>,
    /// Release title.
    pub name: Option<String>,
    /// Keep the release a draft.
    pub draft: bool,
    /// Mark as prerelease.
    pub prerelease: bool,
    /// `make_latest` for the API.
    pub make_latest: Option<MakeLatest>,
    /// Existing release to upload to.
    pub release_id: Option<u64>,
}

/// S3-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// Endpoint URL for S3-compatible servers.
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Path-style addressing.
    pub path_style: bool,
}

/// The validated run configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `path` input, lines as given (the selector parses them).
    pub path: String,
    /// Destinations; empty means `none`.
    pub destinations: Vec<Destination>,
    /// `if-no-files-found`.
    pub if_no_files_found: IfNoFilesFound,
    /// `include-hidden-files`.
    pub include_hidden_files: bool,
    /// `overwrite`.
    pub overwrite: bool,
    /// Artifact settings.
    pub artifact: ArtifactOptions,
    /// Release settings.
    pub release: ReleaseOptions,
    /// S3 settings.
    pub s3: S3Options,
    /// File name of the checksums file.
    pub checksums_name: String,
    /// `secrets`.
    pub secrets: SecretsMode,
    /// `secrets-allow` patterns as written.
    pub secrets_allow: Vec<String>,
    /// `secrets-allow` compiled.
    pub secrets_allow_set: GlobSet,
    /// `duplicates`.
    pub duplicates: DuplicatesMode,
    /// `max-file-size` in bytes.
    pub max_file_size: Option<u64>,
    /// `max-total-size` in bytes.
    pub max_total_size: Option<u64>,
    /// `upload-concurrency`.
    pub upload_concurrency: Option<usize>,
    /// `token`.
    pub token: Option<Secret>,
    /// `check-run`.
    pub check_run: bool,
    /// `summary`.
    pub summary: bool,
    /// Non-fatal remarks about the inputs (e.g. S3 settings without an S3 destination).
    pub warnings: Vec<String>,
}

/// One bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {message}")]
pub struct InputError {
    /// The input name as written in `with:`.
    pub input: &'static str,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// Every bad input of a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// At least one.
    pub errors: Vec<InputError>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

/// Collects errors while reading inputs.
struct Reader<'a> {
    raw: &'a RawInputs,
    errors: Vec<InputError>,
}

impl Reader<'_> {
    fn fail(&mut self, input: &'static str, message: String) {
        self.errors.push(InputError { input, message });
    }

    /// Parses an optional input; on error records it and returns `None`.
    fn opt<T>(
        &mut self,
        input: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw.get(input)?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.fail(input, message);
                None
            }
        }
    }

    fn bool(&mut self, input: &'static str, default: bool) -> bool {
        self.opt(input, parse_bool).unwrap_or(default)
    }

    fn lines(&self, input: &'static str) -> Vec<String> {
        self.raw
            .get(input)
            .map(|v| {
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Characters upload-artifact refuses in artifact names.
/// File name of the manifest, beside the checksums file wherever the documents go (the
/// runner's temporary directory, a directory destination, an S3 prefix).
pub const MANIFEST_NAME: &str = "stevedore-manifest.json";

const FORBIDDEN_NAME_CHARS: &[char] = &['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

impl Config {
    /// Validates raw inputs. `in_actions` picks the default destination.
    pub fn from_raw(raw: &RawInputs, in_actions: bool) -> Result<Config, ConfigError> {
        let mut r = Reader {
            raw,
            errors: Vec::new(),
        };
        let mut warnings = Vec::new();

        let path = raw.get("path").unwrap_or_default().to_owned();
        if r.lines("path").is_empty() {
            r.fail(
                "path",
                "is required: give one or more globs, one per line, e.g. `dist/*`".into(),
            );
        }

        let destinations = destinations(&mut r, in_actions);

        let name = raw.get("name").unwrap_or("artifact").trim().to_owned();
        if let Some(bad) = name.chars().find(|c| FORBIDDEN_NAME_CHARS.contains(c)) {
            r.fail("name", format!(
                "`{}` contains `{}`; artifact names must not contain \" : < > | * ? \\ / or line breaks",
                name.escape_debug(), bad.escape_debug()
            ));
        } else if let Some(problem) = name_problem(&name) {
            r.fail("name", problem);
        }

        let if_no_files_found = r
            .opt("if-no-files-found", |v| {
                parse_choice(
                    v,
                    &[
                        ("warn", IfNoFilesFound::Warn),
                        ("error", IfNoFilesFound::Error),
                        ("ignore", IfNoFilesFound::Ignore),
                    ],
                )
            })
            .unwrap_or(IfNoFilesFound::Warn);
        let include_hidden_files = r.bool("include-hidden-files", false);
        let overwrite = r.bool("overwrite", false);
        let artifact = ArtifactOptions {
            name,
            retention_days: r
                .opt("retention-days", |v| parse_int(v, 1, 400))
                .and_then(|n| u32::try_from(n).ok()),
            compression_level: r
                .opt("compression-level", |v| parse_int(v, 0, 9))
                .map_or(6, |n| u32::try_from(n).unwrap_or(6)),
            archive: r.bool("archive", true),
        };

        let release = ReleaseOptions {
            tag: raw.get("tag").map(|t| t.trim().to_owned()),
            name: raw.get("release-name").map(|t| t.trim().to_owned()),
            draft: r.bool("draft", false),
            prerelease: r.bool("prerelease", false),
            make_latest: r.opt("make-latest", |v| {
                parse_choice(
                    v,
                    &[
                        ("true", MakeLatest::True),
                        ("false", MakeLatest::False),
                        ("legacy", MakeLatest::Legacy),
                    ],
                )
            }),
            release_id: r.opt("release-id", |v| parse_int(v, 1, u64::MAX)),
        };
        if release.tag.is_some() && release.release_id.is_some() {
            r.fail(
                "release-id",
                "conflicts with `tag`: give one of them, not both".into(),
            );
        }
        if release.draft && release.make_latest == Some(MakeLatest::True) {
            r.fail(
                "make-latest",
                "`true` conflicts with `draft: true`: a draft cannot be the latest release".into(),
            );
        }
        if let Some(tag) = &release.tag
            && (tag.chars().any(char::is_whitespace) || tag.contains(".."))
        {
            r.fail(
                "tag",
                format!(
                    "`{}` is not a valid tag name (no spaces or `..`)",
                    tag.escape_debug()
                ),
            );
        }

        let s3 = S3Options {
            endpoint: r.opt("s3-endpoint", |v| {
                let v = v.trim();
                if (v.starts_with("https://") || v.starts_with("http://")) && v.len() > "https://".len() {
                    Ok(v.trim_end_matches('/').to_owned())
                } else {
                    Err(format!("`{v}` is not an endpoint URL; use e.g. https://s3.example.com or http://127.0.0.1:9000"))
                }
            }),
            region: r.opt("s3-region", |v| {
                let v = v.trim();
                if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    Ok(v.to_owned())
                } else {
                    Err(format!("`{v}` is not a region name such as us-east-1"))
                }
            }),
            path_style: r.bool("s3-path-style", false),
        };
        let has_s3 = destinations
            .iter()
            .any(|d| matches!(d, Destination::S3 { .. }));
        if !has_s3 {
            // The action passes every default, so only values that change something count.
            let set = [
                ("s3-endpoint", s3.endpoint.is_some()),
                ("s3-region", s3.region.is_some()),
                ("s3-path-style", s3.path_style),
            ];
            for (input, _) in set.iter().filter(|(_, set)| *set) {
                warnings.push(format!(
                    "input `{input}` is set but no s3:// destination is given; it is ignored"
                ));
            }
        }

        let checksums_name = raw
            .get("checksums")
            .unwrap_or("SHA256SUMS")
            .trim()
            .to_owned();
        if checksums_name == "."
            || checksums_name == ".."
            || checksums_name.contains(['/', '\\'])
            || checksums_name.contains(FORBIDDEN_NAME_CHARS)
        {
            r.fail("checksums", format!(
                "`{}` is not a plain file name; use a name such as SHA256SUMS (no path separators or \" : < > | * ?)",
                checksums_name.escape_debug()
            ));
        } else if let Some(problem) = name_problem(&checksums_name) {
            r.fail("checksums", problem);
        } else if checksums_name == MANIFEST_NAME {
            r.fail("checksums", format!(
                "`{checksums_name}` is the manifest's file name, written beside the checksums file; choose another name such as SHA256SUMS"
            ));
        }

        let secrets = r
            .opt("secrets", |v| {
                parse_choice(
                    v,
                    &[
                        ("error", SecretsMode::Error),
                        ("warn", SecretsMode::Warn),
                        ("off", SecretsMode::Off),
                    ],
                )
            })
            .unwrap_or(SecretsMode::Error);
        let secrets_allow = r.lines("secrets-allow");
        let mut allow = GlobSetBuilder::new();
        for pattern in &secrets_allow {
            // Like `path`: `*` stays within one directory, `**` crosses them.
            match GlobBuilder::new(pattern).literal_separator(true).build() {
                Ok(glob) => {
                    allow.add(glob);
                }
                Err(e) => r.fail(
                    "secrets-allow",
                    format!("`{pattern}` is not a valid glob: {}", e.kind()),
                ),
            }
        }
        let secrets_allow_set = allow.build().unwrap_or_else(|_| GlobSet::empty());
        let duplicates = r
            .opt("duplicates", |v| {
                parse_choice(
                    v,
                    &[
                        ("warn", DuplicatesMode::Warn),
                        ("error", DuplicatesMode::Error),
                        ("ignore", DuplicatesMode::Ignore),
                    ],
                )
            })
            .unwrap_or(DuplicatesMode::Warn);
        let max_file_size = r.opt("max-file-size", parse_size);
        let max_total_size = r.opt("max-total-size", parse_size);
        let upload_concurrency = r
            .opt("upload-concurrency", |v| parse_int(v, 1, 256))
            .and_then(|n| usize::try_from(n).ok());
        let token = raw.get("token").map(|t| Secret::new(t.trim().to_owned()));
        let check_run = r.bool("check-run", false);
        let summary = r.bool("summary", true);

        if !r.errors.is_empty() {
            return Err(ConfigError { errors: r.errors });
        }
        Ok(Config {
            path,
            destinations,
            if_no_files_found,
            include_hidden_files,
            overwrite,
            artifact,
            release,
            s3,
            checksums_name,
            secrets,
            secrets_allow,
            secrets_allow_set,
            duplicates,
            max_file_size,
            max_total_size,
            upload_concurrency,
            token,
            check_run,
            summary,
            warnings,
        })
    }
}

fn destinations(r: &mut Reader<'_>, in_actions: bool) -> Vec<Destination> {
    let lines = r.lines("destination");
    if lines.is_empty() {
        // Only an empty input means the default. action.yml hands the artifact token
        // over when `destination` is empty or names `artifact`; blanks or comments are
        // neither, so defaulting to `artifact` for them would upload without the token.
        if r.raw.is_blank("destination") || r.raw.get("destination").is_some() {
            r.fail(
                "destination",
                format!(
                    "holds no destination, only blanks or `#` comments: leave it empty for the default (artifact inside Actions, none elsewhere), or {}",
                    destination::ACCEPTED
                ),
            );
            return Vec::new();
        }
        return if in_actions {
            vec![Destination::Artifact]
        } else {
            Vec::new()
        };
    }
    let mut out: Vec<Destination> = Vec::new();
    let has_none = lines.iter().any(|l| l == "none");
    if has_none && lines.len() > 1 {
        r.fail(
            "destination",
            "`none` cannot be combined with other destinations; remove `none` or the others".into(),
        );
        return out;
    }
    for line in lines.iter().filter(|l| *l != "none") {
        match destination::parse_destination(line) {
            Ok(d) if out.contains(&d) => r.fail(
                "destination",
                format!("`{line}` is listed twice; list each destination once"),
            ),
            Ok(d) => out.push(d),
            Err(message) => r.fail("destination", message),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&'static str, &str)]) -> RawInputs {
        let mut raw = RawInputs::default();
        for (k, v) in pairs {
            raw.set(k, (*v).to_owned());
        }
        raw
    }

    #[test]
    fn defaults() {
        let c = Config::from_raw(&raw(&[("path", "dist")]), false).expect("valid");
        assert!(c.destinations.is_empty(), "none outside Actions");
        assert_eq!(c.checksums_name, "SHA256SUMS");
        assert_eq!(c.secrets, SecretsMode::Error);
        assert_eq!(c.artifact.compression_level, 6);
        let c = Config::from_raw(&raw(&[("path", "dist")]), true).expect("valid");
        assert_eq!(
            c.destinations,
            vec![Destination::Artifact],
            "artifact inside Actions"
        );
    }

    #[test]
    fn every_bad_input_is_named() {
        let err = Config::from_raw(
            &raw(&[
                ("path", "dist"),
                ("if-no-files-found", "fail"),
                ("overwrite", "yes"),
                ("max-file-size", "2G"),
                ("compression-level", "10"),
                ("destination", "none\nartifact"),
            ]),
            false,
        )
        .unwrap_err();
        let names: Vec<_> = err.errors.iter().map(|e| e.input).collect();
        assert_eq!(
            names,
            [
                "destination",
                "if-no-files-found",
                "overwrite",
                "compression-level",
                "max-file-size"
            ]
        );
    }

    #[test]
    fn conflicts() {
        let err = Config::from_raw(
            &raw(&[("path", "d"), ("tag", "v1"), ("release-id", "5")]),
            false,
        )
        .unwrap_err();
        assert_eq!(err.errors[0].input, "release-id");
        let err = Config::from_raw(
            &raw(&[("path", "d"), ("draft", "true"), ("make-latest", "true")]),
            false,
        )
        .unwrap_err();
        assert_eq!(err.errors[0].input, "make-latest");
        let err = Config::from_raw(&raw(&[("path", "d"), ("destination", "./a\n./a")]), false)
            .unwrap_err();
        assert_eq!(err.errors[0].input, "destination");
    }

    #[test]
    fn a_destination_of_blanks_or_comments_is_refused_not_defaulted() {
        for value in ["  \n", "\t", "# none yet", "\n# artifact, later\n"] {
            for in_actions in [true, false] {
                let err =
                    Config::from_raw(&raw(&[("path", "d"), ("destination", value)]), in_actions)
                        .unwrap_err();
                assert_eq!(err.errors[0].input, "destination", "{value:?}");
                assert!(
                    err.errors[0]
                        .message
                        .contains("leave it empty for the default"),
                    "{value:?}: {}",
                    err.errors[0].message
                );
            }
        }
        // Empty is the one way to the default.
        let c = Config::from_raw(&raw(&[("path", "d"), ("destination", "")]), true).expect("valid");
        assert_eq!(c.destinations, vec![Destination::Artifact]);
    }

    #[test]
    fn path_is_required() {
        let err = Config::from_raw(&raw(&[("path", "# only a comment")]), false).unwrap_err();
        assert_eq!(err.errors[0].input, "path");
    }
}
