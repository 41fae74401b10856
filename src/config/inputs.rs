//! The table of inputs and the two ways they arrive: `INPUT_*` variables (the action) or
//! long flags (the CLI). Both produce the same [`RawInputs`], which `Config` validates.

use std::collections::{BTreeMap, BTreeSet};

use crate::github::RunnerEnv;

/// One input of the action, also a long CLI flag of the same name.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    /// The input name as written in `with:` (kebab-case).
    pub name: &'static str,
    /// The default as documented for users (`""` when there is none).
    pub(crate) default: &'static str,
    /// One-line description, used by `--help`.
    pub(crate) description: &'static str,
    /// Multi-line input: the CLI flag may repeat, each occurrence one line.
    pub(crate) multi_line: bool,
    /// Boolean input: on the command line a switch (`--overwrite` alone means true),
    /// which still takes a value (`--overwrite false`, `--overwrite=false`).
    pub(crate) boolean: bool,
}

impl InputSpec {
    /// True when `value` may follow this input's switch on the command line as its value:
    /// a boolean literal `Config` accepts, or an empty word (`--overwrite "$EMPTY"`: unset,
    /// the default, as an empty input is; no path is empty). Any other word after a switch
    /// is not its value.
    #[must_use]
    pub(crate) fn takes_as_switch_value(&self, value: &str) -> bool {
        self.boolean && (value.trim().is_empty() || super::value::parse_bool(value).is_ok())
    }
}

/// A single-line input (also used by `stevedore download`'s table).
#[must_use]
pub(crate) const fn input(
    name: &'static str,
    default: &'static str,
    description: &'static str,
) -> InputSpec {
    InputSpec {
        name,
        default,
        description,
        multi_line: false,
        boolean: false,
    }
}

const fn lines(name: &'static str, default: &'static str, description: &'static str) -> InputSpec {
    InputSpec {
        multi_line: true,
        ..input(name, default, description)
    }
}

/// A boolean input: a switch on the command line.
#[must_use]
pub(crate) const fn switch(
    name: &'static str,
    default: &'static str,
    description: &'static str,
) -> InputSpec {
    InputSpec {
        boolean: true,
        ..input(name, default, description)
    }
}

/// Every input stevedore accepts, in the order the docs list them.
pub const INPUTS: &[InputSpec] = &[
    lines(
        "path",
        "",
        "Files to ship: one glob per line, `!` excludes, `#` comments (required)",
    ),
    lines(
        "destination",
        "artifact in Actions, none elsewhere",
        "Where to upload: artifact, release, s3://bucket/prefix, a directory path such as ./out, or none; one per line",
    ),
    input("name", "artifact", "Artifact name"),
    switch(
        "fail-on-unmatched-files",
        "false",
        "Fail (exit 3) when a line of `path` matches no file, naming the line",
    ),
    input(
        "if-no-files-found",
        "warn",
        "What to do when no file matches: warn, error or ignore",
    ),
    switch(
        "include-hidden-files",
        "false",
        "Select files and directories whose name starts with a dot",
    ),
    input(
        "symlinks",
        "follow",
        "Symbolic links: follow (ship what they point to) or preserve (ship the link itself; artifact and directory destinations)",
    ),
    input(
        "retention-days",
        "",
        "Days to keep the artifact (1-400); empty uses the repository default",
    ),
    input(
        "compression-level",
        "6",
        "Zip compression level for artifacts, 0 (store) to 9",
    ),
    switch(
        "overwrite",
        "false",
        "Replace an existing artifact, release asset or non-empty destination directory",
    ),
    switch(
        "archive",
        "true",
        "false uploads each file as its own unzipped artifact",
    ),
    switch(
        "artifact-documents",
        "true",
        "Put the checksums file and the manifest in the (archived) artifact beside the files",
    ),
    input("tag", "tag of the ref", "Release tag"),
    input("release-name", "", "Release title"),
    switch("draft", "false", "Leave the release as a draft"),
    switch("prerelease", "false", "Mark the release as a prerelease"),
    input(
        "make-latest",
        "",
        "Mark the release as latest: true, false or legacy",
    ),
    input(
        "release-id",
        "",
        "Upload to this existing release id instead of looking it up by tag",
    ),
    input(
        "repository",
        "the current repository",
        "Ship the release to this owner/name instead of GITHUB_REPOSITORY (the token needs access to it)",
    ),
    input("body", "", "Release notes of a release this run creates"),
    input(
        "body-path",
        "",
        "File whose text is the release notes (wins over `body`)",
    ),
    switch(
        "generate-release-notes",
        "false",
        "Append GitHub's generated release notes to the body of a release this run creates",
    ),
    input(
        "target-commitish",
        "",
        "Commit or branch a tag this run creates points at; empty uses the default branch",
    ),
    lines(
        "expect-assets",
        "",
        "Globs over release asset names, one per line: publish only once each matches an asset (matrix jobs)",
    ),
    switch(
        "rolling",
        "false",
        "Keep one release for `tag` that always holds this run's build: the tag moves to this commit, the assets and notes are replaced, the previous release stays as it was until the new one is complete",
    ),
    input(
        "asset-label",
        "",
        "Label of each release asset, shown on the release page in place of its name (GitHub keeps labels verbatim); `{name}` is the file's name as selected",
    ),
    input(
        "discussion-category",
        "",
        "Create a discussion in this existing category with the release when it is published",
    ),
    input(
        "previous-tag",
        "",
        "The tag generated release notes start from (`generate-release-notes`); empty lets GitHub choose",
    ),
    switch(
        "checksums-in-body",
        "false",
        "Append a table of every asset's SHA-256 to the release notes",
    ),
    input(
        "job-key",
        "",
        "This job's key when several jobs ship to one s3:// prefix (e.g. the matrix target): its checksums file and manifest are named after it",
    ),
    input(
        "s3-endpoint",
        "",
        "S3-compatible endpoint URL; empty uses AWS",
    ),
    input(
        "s3-region",
        "",
        "S3 region; empty uses AWS_REGION or us-east-1",
    ),
    switch(
        "s3-path-style",
        "false",
        "Address buckets as endpoint/bucket instead of bucket.endpoint",
    ),
    input(
        "s3-checksum",
        "sha256",
        "How S3 checks each object: sha256 (x-amz-checksum-sha256), crc32, crc32c (x-amz-checksum-crc32, -crc32c) or none (providers that refuse checksum headers; the signed payload hash still covers the bytes)",
    ),
    input(
        "s3-cache-control",
        "",
        "Cache-Control every S3 object is stored with (e.g. max-age=3600)",
    ),
    lines(
        "s3-content-type",
        "",
        "Content-Type of S3 objects instead of the one guessed from the extension: TYPE for every file, or GLOB=TYPE per line (first match wins)",
    ),
    input(
        "s3-acl",
        "",
        "Canned ACL of every S3 object (x-amz-acl), e.g. bucket-owner-full-control",
    ),
    input(
        "s3-storage-class",
        "",
        "Storage class of every S3 object (x-amz-storage-class), e.g. STANDARD_IA",
    ),
    input(
        "s3-sse",
        "",
        "Server-side encryption of every S3 object: AES256, aws:kms or aws:kms:dsse",
    ),
    input(
        "s3-sse-kms-key-id",
        "",
        "KMS key for s3-sse aws:kms (its id, ARN or alias); empty uses the bucket's default key",
    ),
    input(
        "checksums",
        "SHA256SUMS",
        "Name of the checksums file (sha256sum -c format)",
    ),
    input(
        "secrets",
        "error",
        "Credential scan before upload: error, warn or off",
    ),
    lines(
        "secrets-allow",
        "",
        "Globs of relative paths whose secret findings are accepted, one per line",
    ),
    input(
        "duplicates",
        "warn",
        "Files with identical content: warn, error or ignore",
    ),
    input(
        "max-file-size",
        "",
        "Largest allowed file, e.g. 500MB or 2GiB",
    ),
    input("max-total-size", "", "Largest allowed total, e.g. 10GiB"),
    input(
        "upload-concurrency",
        "",
        "Requests in flight per destination (1-256); empty uses each destination's default",
    ),
    input("token", "github.token", "Token for releases and check runs"),
    switch("check-run", "false", "Publish findings as a check run"),
    switch("summary", "true", "Write the job summary"),
];

/// Input values as given, before validation. Empty values count as unset, as the
/// runner passes every declared input, set or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInputs {
    values: BTreeMap<&'static str, String>,
    /// Inputs given as blanks only (`" "`, `"\n"`): unset for [`RawInputs::get`], but
    /// not empty, which `action.yml` tells apart (`inputs.destination == ''`).
    blank: BTreeSet<&'static str>,
}

impl RawInputs {
    /// Reads `INPUT_<NAME>` for every known input (NAME upper-cased, `-` as `_`).
    /// The hyphenated spelling the runner uses for JavaScript actions is accepted too.
    #[must_use]
    pub fn from_env(env: &RunnerEnv) -> Self {
        let mut raw = RawInputs::default();
        for spec in INPUTS {
            let upper = spec.name.to_ascii_uppercase();
            let underscored = upper.replace('-', "_");
            let value = env
                .inputs
                .get(&underscored)
                .or_else(|| env.inputs.get(&upper));
            if let Some(value) = value {
                raw.set(spec.name, value.clone());
            }
        }
        raw
    }

    /// Sets an input; `name` must be one of [`INPUTS`]. Empty and blank values are
    /// dropped; a blank one is remembered by [`RawInputs::is_blank`].
    pub fn set(&mut self, name: &'static str, value: String) {
        debug_assert!(
            INPUTS.iter().any(|s| s.name == name),
            "unknown input {name}"
        );
        self.values.remove(name);
        self.blank.remove(name);
        if value.trim().is_empty() {
            if !value.is_empty() {
                self.blank.insert(name);
            }
        } else {
            self.values.insert(name, value);
        }
    }

    /// The value of an input, if set and non-empty.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// True when the input was given as blanks only (spaces, tabs, line breaks): not
    /// empty, yet with no value.
    #[must_use]
    pub(crate) fn is_blank(&self, name: &str) -> bool {
        self.blank.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_map_to_underscored_env_names() {
        let env = RunnerEnv::from_vars([
            ("INPUT_IF_NO_FILES_FOUND", "error"),
            ("INPUT_INCLUDE-HIDDEN-FILES", "true"),
            ("INPUT_NAME", ""),
        ]);
        let raw = RawInputs::from_env(&env);
        assert_eq!(raw.get("if-no-files-found"), Some("error"));
        assert_eq!(raw.get("include-hidden-files"), Some("true"));
        assert_eq!(raw.get("name"), None);
        assert!(!raw.is_blank("name"), "empty is unset, not blank");
    }

    #[test]
    fn blank_values_are_unset_but_remembered() {
        let env = RunnerEnv::from_vars([("INPUT_DESTINATION", " \n\t"), ("INPUT_TAG", "")]);
        let mut raw = RawInputs::from_env(&env);
        assert_eq!(raw.get("destination"), None);
        assert!(raw.is_blank("destination"));
        assert!(!raw.is_blank("tag"));
        raw.set("destination", "./out".into());
        assert_eq!(raw.get("destination"), Some("./out"));
        assert!(!raw.is_blank("destination"));
    }

    #[test]
    fn input_names_are_unique_kebab_case() {
        let mut names: Vec<_> = INPUTS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INPUTS.len());
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
        }));
    }

    #[test]
    fn switches_are_exactly_the_inputs_parsed_as_booleans() {
        // Every destination kind, so that each section's inputs are read.
        for spec in INPUTS {
            if matches!(spec.name, "path" | "destination") {
                continue;
            }
            let mut raw = RawInputs::default();
            raw.set("path", "dist".into());
            raw.set(
                "destination",
                "artifact\nrelease\ns3://bucket/prefix".into(),
            );
            raw.set(spec.name, "maybe".into());
            let refused_as_boolean = crate::config::Config::from_raw(&raw, true)
                .err()
                .is_some_and(|e| {
                    e.errors.iter().any(|e| {
                        let text = e.to_string();
                        text.contains(&format!("`{}`", spec.name))
                            && text.contains("is not a boolean")
                    })
                });
            assert_eq!(refused_as_boolean, spec.boolean, "{}", spec.name);
        }
    }
}
