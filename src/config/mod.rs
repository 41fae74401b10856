//! Inputs -> [`Config`]: every input validated once into typed values.
//!
//! All bad inputs are collected, not just the first, so one failed run tells the user
//! everything to fix. Inputs of destinations that are not built yet are validated too.

mod destination;
pub(crate) mod inputs;
mod value;

use std::fmt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

pub(crate) use destination::Destination;
pub use inputs::{INPUTS, InputSpec, RawInputs};

use crate::secret::Secret;
pub(crate) use value::parse_size;
use value::{name_problem, parse_bool, parse_choice, parse_endpoint, parse_int, parse_region};

/// What to do when `path` matches nothing (upload-artifact's `if-no-files-found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfNoFilesFound {
    /// Warn and succeed.
    Warn,
    /// Fail with a policy violation.
    Error,
    /// Succeed quietly.
    Ignore,
}

/// How to treat credential findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretsMode {
    /// Findings stop the run before any upload.
    Error,
    /// Findings are reported; the run continues.
    Warn,
    /// No scan.
    Off,
}

/// How to treat files with identical content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DuplicatesMode {
    /// Report duplicate groups as warnings.
    Warn,
    /// Duplicate groups stop the run.
    Error,
    /// Report them only in the summary and manifest.
    Ignore,
}

/// What a selected symbolic link becomes (`symlinks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symlinks {
    /// Ship what the link points to, as upload-artifact does.
    Follow,
    /// Ship the link itself: a zip entry of mode `S_IFLNK|0777` whose content is the
    /// target (as Info-ZIP's `zip -y`), a link in a directory destination.
    Preserve,
}

/// `make-latest` of the releases API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MakeLatest {
    /// Mark as latest.
    True,
    /// Do not mark as latest.
    False,
    /// Latest by creation date and semantic version (GitHub's default).
    Legacy,
}

/// Artifact-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArtifactOptions {
    /// Artifact name.
    pub(crate) name: String,
    /// Retention in days; `None` uses the repository default.
    pub(crate) retention_days: Option<u32>,
    /// Deflate level 0-9.
    pub(crate) compression_level: u32,
    /// `false`: every file becomes its own unzipped artifact.
    pub(crate) archive: bool,
    /// The checksums file and the manifest go into the zip beside the files, so a
    /// downloaded artifact can be verified (`artifact-documents`).
    pub(crate) documents: bool,
}

/// Release-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReleaseOptions {
    /// Tag; `None` uses the tag of `GITHUB_REF`.
    pub(crate) tag: Option<String>,
    /// Release title.
    pub(crate) name: Option<String>,
    /// Keep the release a draft.
    pub(crate) draft: bool,
    /// Mark as prerelease.
    pub(crate) prerelease: bool,
    /// `make_latest` for the API.
    pub(crate) make_latest: Option<MakeLatest>,
    /// Existing release to upload to.
    pub(crate) release_id: Option<u64>,
    /// `repository`: `owner/name` the release goes to; `None` uses `GITHUB_REPOSITORY`.
    pub(crate) repository: Option<String>,
    /// `body`: release notes of a release this run creates.
    pub(crate) body: Option<String>,
    /// `body-path`: a file whose text is the notes (wins over `body`).
    pub(crate) body_path: Option<String>,
    /// `generate-release-notes`: GitHub's generated notes appended to the body.
    pub(crate) generate_notes: bool,
    /// `target-commitish`: where a tag this run creates points.
    pub(crate) target_commitish: Option<String>,
    /// `expect-assets`: globs over asset names as GitHub stores them. Non-empty, the
    /// release is a set shared by matrix jobs, published once every line matches.
    pub(crate) expect_assets: Vec<ExpectedAsset>,
    /// `asset-label`: the label template; `{name}` is the file's name as selected.
    pub(crate) asset_label: Option<String>,
    /// `discussion-category`: the discussion category a published release opens a
    /// discussion in.
    pub(crate) discussion_category: Option<String>,
    /// `previous-tag`: where generated notes start.
    pub(crate) previous_tag: Option<String>,
    /// `checksums-in-body`: the checksums as a table at the end of the notes.
    pub(crate) checksums_in_body: bool,
    /// `rolling`: the release of `tag` is replaced by this commit's.
    pub(crate) rolling: bool,
}

/// One `expect-assets` line, compiled once here (as `secrets-allow` is) so the release
/// destination has no second error path for it.
#[derive(Debug, Clone)]
pub(crate) struct ExpectedAsset {
    /// The line as written, as the summary and the messages show it.
    pub(crate) line: String,
    /// The line compiled; asset names are flat, so `*` matches any name.
    pub(crate) matcher: globset::GlobMatcher,
}

impl PartialEq for ExpectedAsset {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
    }
}

impl Eq for ExpectedAsset {}

/// S3-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Options {
    /// `job-key`: several jobs share the prefix; this job's documents carry the key in
    /// their names, so no job overwrites another's.
    pub(crate) job_key: Option<String>,
    /// Endpoint URL for S3-compatible servers.
    pub(crate) endpoint: Option<String>,
    /// Region.
    pub(crate) region: Option<String>,
    /// Path-style addressing.
    pub(crate) path_style: bool,
    /// `s3-checksum`: the integrity check each object carries.
    pub(crate) checksum: S3Checksum,
    /// `s3-cache-control`: the `Cache-Control` every object is stored with.
    pub(crate) cache_control: Option<String>,
    /// `s3-content-type`: types that replace the one guessed from the extension, the
    /// first matching line winning; a line without a glob applies to every file.
    pub(crate) content_types: Vec<ContentTypeRule>,
    /// `s3-acl`: a canned ACL (`x-amz-acl`).
    pub(crate) acl: Option<String>,
    /// `s3-storage-class` (`x-amz-storage-class`).
    pub(crate) storage_class: Option<String>,
    /// `s3-sse` (`x-amz-server-side-encryption`).
    pub(crate) sse: Option<String>,
    /// `s3-sse-kms-key-id` (`x-amz-server-side-encryption-aws-kms-key-id`).
    pub(crate) sse_kms_key_id: Option<String>,
}

/// How each S3 object's bytes are checked by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum S3Checksum {
    /// `x-amz-checksum-sha256`: the scan's SHA-256, checked by the server on arrival.
    Sha256,
    /// `x-amz-checksum-crc32`: CRC-32, computed by the scan from the same read, for
    /// providers that take no SHA-256 checksum header.
    Crc32,
    /// `x-amz-checksum-crc32c`: CRC-32C, computed by the scan from the same read.
    Crc32c,
    /// No `x-amz-checksum-*` header (providers that reject or mishandle them): the
    /// request signature covers the scan's SHA-256 of the body instead
    /// (`x-amz-content-sha256`), which `SigV4` servers check.
    None,
}

/// One line of `s3-content-type`: `TYPE`, or `GLOB=TYPE`.
#[derive(Debug, Clone)]
pub(crate) struct ContentTypeRule {
    /// Over the file's path relative to the selection root; `None` matches every file.
    pub(crate) glob: Option<globset::GlobMatcher>,
    /// The line as written, for comparisons.
    pub(crate) line: String,
    pub(crate) content_type: String,
}

impl PartialEq for ContentTypeRule {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
    }
}

impl Eq for ContentTypeRule {}

/// The validated run configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `path` input, lines as given (the selector parses them).
    pub(crate) path: String,
    /// Destinations; empty means `none`.
    pub(crate) destinations: Vec<Destination>,
    /// `if-no-files-found`.
    pub(crate) if_no_files_found: IfNoFilesFound,
    /// `include-hidden-files`.
    pub(crate) include_hidden_files: bool,
    /// `symlinks`.
    pub(crate) symlinks: Symlinks,
    /// `overwrite`.
    pub(crate) overwrite: bool,
    /// `fail-on-unmatched-files`: a `path` line matching no file fails the run (exit 3).
    pub(crate) fail_on_unmatched: bool,
    /// Artifact settings.
    pub(crate) artifact: ArtifactOptions,
    /// Release settings.
    pub(crate) release: ReleaseOptions,
    /// S3 settings.
    pub(crate) s3: S3Options,
    /// File name of the checksums file.
    pub(crate) checksums_name: String,
    /// `secrets`.
    pub(crate) secrets: SecretsMode,
    /// `secrets-allow` compiled.
    pub(crate) secrets_allow_set: GlobSet,
    /// `duplicates`.
    pub(crate) duplicates: DuplicatesMode,
    /// `max-file-size` in bytes.
    pub(crate) max_file_size: Option<u64>,
    /// `max-total-size` in bytes.
    pub(crate) max_total_size: Option<u64>,
    /// `upload-concurrency`.
    pub(crate) upload_concurrency: Option<usize>,
    /// `token`.
    pub(crate) token: Option<Secret>,
    /// `check-run`.
    pub(crate) check_run: bool,
    /// `summary`.
    pub(crate) summary: bool,
    /// Non-fatal remarks about the inputs (e.g. S3 settings without an S3 destination).
    pub(crate) warnings: Vec<String>,
}

/// One bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {message}")]
pub(crate) struct InputError {
    /// The input name as written in `with:`.
    pub(crate) input: &'static str,
    pub(crate) message: String,
}

/// Every bad input of a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// At least one.
    pub(crate) errors: Vec<InputError>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

/// File name of the manifest, beside the checksums file wherever the documents go (the
/// runner's temporary directory, a directory destination, an S3 prefix).
pub(crate) const MANIFEST_NAME: &str = "stevedore-manifest.json";

/// Characters upload-artifact refuses in artifact names (its
/// `invalidArtifactNameCharacters`): the ones it refuses in file paths
/// ([`crate::select::FORBIDDEN_PATH_CHARS`]) plus both path separators. Used for every
/// name that must also be a single artifact or file name: `name`, `checksums`, and each
/// file's artifact with `archive: false`.
pub(crate) const FORBIDDEN_NAME_CHARS: &[char] =
    &['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

// The words each choice input accepts, in the order its error message lists them.
const IF_NO_FILES_FOUND: &[(&str, IfNoFilesFound)] = &[
    ("warn", IfNoFilesFound::Warn),
    ("error", IfNoFilesFound::Error),
    ("ignore", IfNoFilesFound::Ignore),
];
const MAKE_LATEST: &[(&str, MakeLatest)] = &[
    ("true", MakeLatest::True),
    ("false", MakeLatest::False),
    ("legacy", MakeLatest::Legacy),
];
const SYMLINKS: &[(&str, Symlinks)] = &[
    ("follow", Symlinks::Follow),
    ("preserve", Symlinks::Preserve),
];
const SECRETS: &[(&str, SecretsMode)] = &[
    ("error", SecretsMode::Error),
    ("warn", SecretsMode::Warn),
    ("off", SecretsMode::Off),
];
const DUPLICATES: &[(&str, DuplicatesMode)] = &[
    ("warn", DuplicatesMode::Warn),
    ("error", DuplicatesMode::Error),
    ("ignore", DuplicatesMode::Ignore),
];

impl Config {
    /// Whether the scan must compute CRC-32: the artifact zip checks each entry against
    /// it, and `s3-checksum: crc32` sends it.
    pub(crate) fn needs_crc32(&self) -> bool {
        (self.artifact.archive && self.ships_artifacts())
            || self.sends_s3_checksum(S3Checksum::Crc32)
    }

    /// Whether the scan must compute CRC-32C (`s3-checksum: crc32c` sends it).
    pub(crate) fn needs_crc32c(&self) -> bool {
        self.sends_s3_checksum(S3Checksum::Crc32c)
    }

    fn sends_s3_checksum(&self, checksum: S3Checksum) -> bool {
        self.s3.checksum == checksum
            && self
                .destinations
                .iter()
                .any(|d| matches!(d, Destination::S3 { .. }))
    }

    /// Whether an `artifact` destination is among the destinations: its paths follow the
    /// artifact service's rules, and archived files are checked against a CRC-32.
    #[must_use]
    pub(crate) fn ships_artifacts(&self) -> bool {
        self.destinations
            .iter()
            .any(|d| matches!(d, Destination::Artifact))
    }

    /// Validates raw inputs. `in_actions` picks the default destination.
    ///
    /// Every input is read, even after one failed, so the error lists them all; they are
    /// listed in the order they are read here, which is why the artifact name is read
    /// before the fields that precede `artifact`.
    pub(crate) fn from_raw(raw: &RawInputs, in_actions: bool) -> Result<Config, ConfigError> {
        let mut r = Reader {
            raw,
            errors: Vec::new(),
        };
        // A final job of a matrix may have nothing to upload: with `expect-assets` it only
        // verifies the set and publishes.
        let path = if r.lines("expect-assets").is_empty() {
            required_path(&mut r)
        } else {
            r.raw.get("path").unwrap_or_default().to_owned()
        };
        let destinations = destinations(&mut r, in_actions);
        let artifact_name = artifact_name(&mut r);
        let mut config = Config {
            path,
            destinations,
            if_no_files_found: r.choice(
                "if-no-files-found",
                IF_NO_FILES_FOUND,
                IfNoFilesFound::Warn,
            ),
            include_hidden_files: r.bool("include-hidden-files", false),
            symlinks: r.choice("symlinks", SYMLINKS, Symlinks::Follow),
            overwrite: r.bool("overwrite", false),
            fail_on_unmatched: r.bool("fail-on-unmatched-files", false),
            artifact: artifact_options(&mut r, artifact_name),
            release: release_options(&mut r),
            s3: s3_options(&mut r),
            checksums_name: checksums_name(&mut r),
            secrets: r.choice("secrets", SECRETS, SecretsMode::Error),
            secrets_allow_set: secrets_allow(&mut r),
            duplicates: r.choice("duplicates", DUPLICATES, DuplicatesMode::Warn),
            max_file_size: r.opt("max-file-size", parse_size),
            max_total_size: r.opt("max-total-size", parse_size),
            upload_concurrency: r.int("upload-concurrency", 1, 256),
            token: r.text("token").map(Secret::new),
            check_run: r.bool("check-run", false),
            summary: r.bool("summary", true),
            warnings: Vec::new(),
        };
        if let Some(message) = links_unsupported(&config) {
            r.fail("symlinks", message);
        }
        if !r.errors.is_empty() {
            return Err(ConfigError { errors: r.errors });
        }
        config.warnings = ignored_inputs(&config);
        Ok(config)
    }
}

/// `symlinks: preserve` needs destinations that can hold a link: a zip entry (artifact with
/// `archive: true`) or a directory. A release asset, an S3 object or an unzipped artifact
/// is a plain file.
fn links_unsupported(config: &Config) -> Option<String> {
    if config.symlinks != Symlinks::Preserve {
        return None;
    }
    let plain = config.destinations.iter().find_map(|d| match d {
        Destination::Release => Some("`release` (an asset is a plain file)".to_owned()),
        Destination::S3 { .. } => {
            Some("an `s3://` destination (an object is a plain file)".to_owned())
        }
        Destination::Artifact if !config.artifact.archive => {
            Some("`artifact` with `archive: false` (each file is uploaded unzipped)".to_owned())
        }
        _ => None,
    })?;
    Some(format!(
        "`preserve` cannot be shipped to {plain}; use `symlinks: follow` there, or ship the links to an `artifact` (archived) or a directory destination"
    ))
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

    fn choice<T: Copy>(&mut self, input: &'static str, choices: &[(&str, T)], default: T) -> T {
        self.opt(input, |v| parse_choice(v, choices))
            .unwrap_or(default)
    }

    /// A whole number within `min..=max`, which the caller keeps within `T`.
    fn int<T: TryFrom<u64>>(&mut self, input: &'static str, min: u64, max: u64) -> Option<T> {
        self.opt(input, |v| parse_int(v, min, max))
            .and_then(|n| T::try_from(n).ok())
    }

    /// Free text, trimmed; any value is accepted.
    fn text(&self, input: &'static str) -> Option<String> {
        self.raw.get(input).map(|v| v.trim().to_owned())
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

/// `path` as given (the selector parses it), which must hold at least one pattern.
fn required_path(r: &mut Reader<'_>) -> String {
    if r.lines("path").is_empty() {
        r.fail(
            "path",
            "is required: give one or more globs, one per line, e.g. `dist/*`".into(),
        );
    }
    r.raw.get("path").unwrap_or_default().to_owned()
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

/// `name`, which upload-artifact would refuse with the same rules only after the upload
/// started.
fn artifact_name(r: &mut Reader<'_>) -> String {
    let name = r.text("name").unwrap_or_else(|| "artifact".to_owned());
    if let Some(bad) = name.chars().find(|c| FORBIDDEN_NAME_CHARS.contains(c)) {
        r.fail("name", format!(
            "`{}` contains `{}`; artifact names must not contain \" : < > | * ? \\ / or line breaks",
            name.escape_debug(), bad.escape_debug()
        ));
    } else if let Some(problem) = name_problem(&name) {
        r.fail("name", problem);
    }
    name
}

fn artifact_options(r: &mut Reader<'_>, name: String) -> ArtifactOptions {
    ArtifactOptions {
        name,
        retention_days: r.int("retention-days", 1, 400),
        compression_level: r.int("compression-level", 0, 9).unwrap_or(6),
        archive: r.bool("archive", true),
        documents: r.bool("artifact-documents", true),
    }
}

/// The release inputs, and the combinations the releases API would refuse only after
/// files were uploaded.
fn release_options(r: &mut Reader<'_>) -> ReleaseOptions {
    let release = ReleaseOptions {
        tag: r.text("tag"),
        name: r.text("release-name"),
        draft: r.bool("draft", false),
        prerelease: r.bool("prerelease", false),
        make_latest: r.opt("make-latest", |v| parse_choice(v, MAKE_LATEST)),
        release_id: r.int("release-id", 1, u64::MAX),
        expect_assets: expect_assets(r),
        repository: r.opt("repository", parse_repository),
        body: r.raw.get("body").map(str::to_owned),
        body_path: r.text("body-path"),
        generate_notes: r.bool("generate-release-notes", false),
        target_commitish: r.text("target-commitish"),
        asset_label: r.opt("asset-label", parse_label_template),
        discussion_category: r.text("discussion-category"),
        previous_tag: r.text("previous-tag"),
        checksums_in_body: r.bool("checksums-in-body", false),
        rolling: r.bool("rolling", false),
    };
    if release.rolling && release.release_id.is_some() {
        r.fail(
            "rolling",
            "conflicts with `release-id`: a rolling release is found by `tag` and replaced by a new one; give `tag`".into(),
        );
    }
    if release.previous_tag.is_some() && !release.generate_notes {
        r.fail(
            "previous-tag",
            "only applies to generated notes: set `generate-release-notes: true`, or remove `previous-tag`".into(),
        );
    }
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
    release
}

/// `expect-assets`: each line must be a valid glob.
fn expect_assets(r: &mut Reader<'_>) -> Vec<ExpectedAsset> {
    let mut compiled = Vec::new();
    for line in r.lines("expect-assets") {
        match globset::Glob::new(&line) {
            Ok(glob) => compiled.push(ExpectedAsset {
                matcher: glob.compile_matcher(),
                line,
            }),
            Err(e) => r.fail(
                "expect-assets",
                format!("`{line}` is not a valid glob: {}", e.kind()),
            ),
        }
    }
    compiled
}

fn s3_options(r: &mut Reader<'_>) -> S3Options {
    let options = S3Options {
        job_key: r.opt("job-key", parse_job_key),
        endpoint: r.opt("s3-endpoint", parse_endpoint),
        region: r.opt("s3-region", parse_region),
        path_style: r.bool("s3-path-style", false),
        checksum: r
            .opt("s3-checksum", |v| {
                parse_choice(
                    v,
                    &[
                        ("sha256", S3Checksum::Sha256),
                        ("crc32", S3Checksum::Crc32),
                        ("crc32c", S3Checksum::Crc32c),
                        ("none", S3Checksum::None),
                    ],
                )
            })
            .unwrap_or(S3Checksum::Sha256),
        cache_control: r.opt("s3-cache-control", parse_header_value),
        content_types: content_types(r),
        acl: r.opt("s3-acl", |v| {
            parse_choice(v, CANNED_ACLS).map(|acl: &str| acl.to_owned())
        }),
        storage_class: r.opt("s3-storage-class", parse_storage_class),
        sse: r.opt("s3-sse", |v| {
            parse_choice(
                v,
                &[
                    ("AES256", "AES256"),
                    ("aws:kms", "aws:kms"),
                    ("aws:kms:dsse", "aws:kms:dsse"),
                ],
            )
            .map(str::to_owned)
        }),
        sse_kms_key_id: r.opt("s3-sse-kms-key-id", parse_header_value),
    };
    if options.sse_kms_key_id.is_some()
        && !options
            .sse
            .as_deref()
            .is_some_and(|s| s.starts_with("aws:kms"))
    {
        r.fail(
            "s3-sse-kms-key-id",
            "names a KMS key, but `s3-sse` is not `aws:kms` or `aws:kms:dsse`: set `s3-sse: aws:kms` to encrypt with it".into(),
        );
    }
    options
}

/// The canned ACLs of `x-amz-acl` (AWS S3 API reference, `PutObject`).
const CANNED_ACLS: &[(&str, &str)] = &[
    ("private", "private"),
    ("public-read", "public-read"),
    ("public-read-write", "public-read-write"),
    ("authenticated-read", "authenticated-read"),
    ("aws-exec-read", "aws-exec-read"),
    ("bucket-owner-read", "bucket-owner-read"),
    ("bucket-owner-full-control", "bucket-owner-full-control"),
];

/// A value sent as an HTTP header as written: visible ASCII and spaces only.
fn parse_header_value(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(format!(
            "`{}` cannot be sent as an HTTP header; use visible ASCII characters",
            v.escape_debug()
        ));
    }
    Ok(v.to_owned())
}

/// `s3-storage-class`: AWS's classes (`STANDARD_IA`, `GLACIER_IR`, ...) and other
/// providers' (`NEARLINE` on Google Cloud Storage) share one shape, upper case and `_`.
fn parse_storage_class(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty()
        || v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "`{}` is not a storage class; write it as the provider names it, e.g. STANDARD_IA or GLACIER_IR",
            v.escape_debug()
        ));
    }
    Ok(v.to_owned())
}

/// `s3-content-type`: each line `TYPE` or `GLOB=TYPE` (`*` within a directory, `**`
/// across them, as `secrets-allow`).
fn content_types(r: &mut Reader<'_>) -> Vec<ContentTypeRule> {
    let mut rules = Vec::new();
    for line in r.lines("s3-content-type") {
        // The `=` of `GLOB=TYPE` comes before any `;` (a type's parameters have their own).
        let head = line.split(';').next().unwrap_or_default();
        let (glob, content_type) = match head.find('=') {
            Some(at) => (Some(line[..at].trim()), line[at + 1..].trim()),
            None => (None, line.as_str()),
        };
        let shape_ok = content_type
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            && parse_header_value(content_type).is_ok();
        if !shape_ok {
            let what = if glob.is_some() {
                format!(
                    "`{}`: `{}`",
                    line.escape_debug(),
                    content_type.escape_debug()
                )
            } else {
                format!("`{}`", line.escape_debug())
            };
            r.fail(
                "s3-content-type",
                format!(
                    "{what} is not a media type; write `type/subtype` (e.g. `text/html; charset=utf-8`), or `GLOB=type/subtype` for some files"
                ),
            );
            continue;
        }
        if glob.is_some_and(str::is_empty) {
            r.fail(
                "s3-content-type",
                format!(
                    "`{}` has no glob before `=`; write `GLOB=TYPE`, or the type alone for every file",
                    line.escape_debug()
                ),
            );
            continue;
        }
        let glob = match glob.map(|g| GlobBuilder::new(g).literal_separator(true).build()) {
            None => None,
            Some(Ok(g)) => Some(g.compile_matcher()),
            Some(Err(e)) => {
                r.fail(
                    "s3-content-type",
                    format!("`{}`: not a valid glob: {}", line.escape_debug(), e.kind()),
                );
                continue;
            }
        };
        rules.push(ContentTypeRule {
            glob,
            content_type: content_type.to_owned(),
            line,
        });
    }
    rules
}

/// `repository`: `owner/name`, as GitHub spells repositories.
fn parse_repository(v: &str) -> Result<String, String> {
    let v = v.trim();
    let ok = v.split_once('/').is_some_and(|(owner, name)| {
        let part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        part(owner) && part(name)
    });
    if ok {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "`{}` is not `owner/name` (e.g. `octo-org/octo-repo`)",
            v.escape_debug()
        ))
    }
}

/// `asset-label`: text with `{name}` placeholders (the only one), no line break (GitHub
/// shows a label on one line).
fn parse_label_template(value: &str) -> Result<String, String> {
    if value.contains(['\n', '\r']) {
        return Err("a label is one line: remove the line break".into());
    }
    let rest = value.replace("{name}", "");
    if rest.contains(['{', '}']) {
        return Err(format!(
            "`{value}` has a placeholder other than `{{name}}` (the file's name as selected), the only one there is"
        ));
    }
    Ok(value.to_owned())
}

/// `job-key`: one segment of a file name (letters, digits, `.`, `_`, `-`), as it becomes
/// part of two object names beside the job's files.
fn parse_job_key(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.len() > 64
        || v.starts_with('.')
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "`{}` is not usable in a file name: give up to 64 letters, digits, `.`, `_` or `-`, not starting with `.` (e.g. `${{{{ matrix.os }}}}`)",
            v.escape_debug()
        ));
    }
    Ok(v.to_owned())
}

/// Warnings for settings of a destination kind none of the `destination` lines names
/// (`tag` with only a directory, `s3-region` without `s3://`). The action passes every
/// default, so only values that change something count.
fn ignored_inputs(config: &Config) -> Vec<String> {
    // Per kind: whether a destination of it is given, its name, and its inputs with
    // whether each was set to something other than its default.
    type Group<'g> = (bool, &'g str, Vec<(&'g str, bool)>);
    let has = |kind: fn(&Destination) -> bool| config.destinations.iter().any(kind);
    let (s3, r, a) = (&config.s3, &config.release, &config.artifact);
    let groups: [Group<'_>; 3] = [
        (
            has(|d| matches!(d, Destination::S3 { .. })),
            "s3://",
            vec![
                ("job-key", s3.job_key.is_some()),
                ("s3-endpoint", s3.endpoint.is_some()),
                ("s3-region", s3.region.is_some()),
                ("s3-path-style", s3.path_style),
                ("s3-checksum", s3.checksum != S3Checksum::Sha256),
                ("s3-cache-control", s3.cache_control.is_some()),
                ("s3-content-type", !s3.content_types.is_empty()),
                ("s3-acl", s3.acl.is_some()),
                ("s3-storage-class", s3.storage_class.is_some()),
                ("s3-sse", s3.sse.is_some()),
                ("s3-sse-kms-key-id", s3.sse_kms_key_id.is_some()),
            ],
        ),
        (
            has(|d| matches!(d, Destination::Release)),
            "`release`",
            vec![
                ("tag", r.tag.is_some()),
                ("release-name", r.name.is_some()),
                ("draft", r.draft),
                ("prerelease", r.prerelease),
                ("make-latest", r.make_latest.is_some()),
                ("release-id", r.release_id.is_some()),
                ("body", r.body.as_deref().is_some_and(|b| !b.is_empty())),
                ("body-path", r.body_path.is_some()),
                ("generate-release-notes", r.generate_notes),
                ("target-commitish", r.target_commitish.is_some()),
                ("expect-assets", !r.expect_assets.is_empty()),
                ("asset-label", r.asset_label.is_some()),
                ("discussion-category", r.discussion_category.is_some()),
                ("previous-tag", r.previous_tag.is_some()),
                ("checksums-in-body", r.checksums_in_body),
                ("rolling", r.rolling),
            ],
        ),
        (
            has(|d| matches!(d, Destination::Artifact)),
            "`artifact`",
            vec![
                ("name", a.name != "artifact"),
                ("retention-days", a.retention_days.is_some()),
                ("compression-level", a.compression_level != 6),
                ("archive", !a.archive),
                ("artifact-documents", !a.documents),
            ],
        ),
    ];
    groups
        .into_iter()
        .filter(|(present, _, _)| !present)
        .flat_map(|(_, what, inputs)| {
            inputs
                .into_iter()
                .filter(|(_, set)| *set)
                .map(move |(input, _)| {
                    format!(
                        "input `{input}` is set but no {what} destination is given; it is ignored"
                    )
                })
        })
        .collect()
}

/// `checksums`: one plain file name, which lands beside the manifest in a directory, an
/// S3 prefix, a release and an artifact alike.
fn checksums_name(r: &mut Reader<'_>) -> String {
    let name = r
        .text("checksums")
        .unwrap_or_else(|| "SHA256SUMS".to_owned());
    if name == "." || name == ".." || name.contains(FORBIDDEN_NAME_CHARS) {
        r.fail("checksums", format!(
            "`{}` is not a plain file name; use a name such as SHA256SUMS (no path separators or \" : < > | * ?)",
            name.escape_debug()
        ));
    } else if let Some(problem) = name_problem(&name) {
        r.fail("checksums", problem);
    } else if name == MANIFEST_NAME {
        r.fail("checksums", format!(
            "`{name}` is the manifest's file name, written beside the checksums file; choose another name such as SHA256SUMS"
        ));
    }
    name
}

/// `secrets-allow` compiled. Like `path`, `*` stays within one directory and `**`
/// crosses them.
fn secrets_allow(r: &mut Reader<'_>) -> GlobSet {
    let mut allow = GlobSetBuilder::new();
    for pattern in r.lines("secrets-allow") {
        match GlobBuilder::new(&pattern).literal_separator(true).build() {
            Ok(glob) => {
                allow.add(glob);
            }
            Err(e) => r.fail(
                "secrets-allow",
                format!("`{pattern}` is not a valid glob: {}", e.kind()),
            ),
        }
    }
    allow.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_key_is_one_file_name_segment_and_expect_assets_allows_an_empty_path() {
        let ok = Config::from_raw(&raw(&[("path", "d"), ("job-key", "macos-14_arm64")]), false)
            .expect("valid");
        assert_eq!(ok.s3.job_key.as_deref(), Some("macos-14_arm64"));
        for bad in ["a/b", ".hidden", "a b"] {
            let err =
                Config::from_raw(&raw(&[("path", "d"), ("job-key", bad)]), false).expect_err(bad);
            assert_eq!(err.errors[0].input, "job-key");
        }
        let err = Config::from_raw(&raw(&[("destination", "release")]), false).expect_err("path");
        assert_eq!(err.errors[0].input, "path");
        let final_job = Config::from_raw(
            &raw(&[
                ("destination", "release"),
                ("expect-assets", "app-*\n# c\n"),
            ]),
            false,
        )
        .expect("an empty path with expect-assets");
        assert_eq!(
            final_job
                .release
                .expect_assets
                .iter()
                .map(|e| e.line.as_str())
                .collect::<Vec<_>>(),
            ["app-*"]
        );
        assert!(final_job.warnings.is_empty(), "{:?}", final_job.warnings);
        let elsewhere =
            Config::from_raw(&raw(&[("path", "d"), ("expect-assets", "a")]), false).expect("valid");
        assert!(
            elsewhere.warnings[0].contains("`expect-assets` is set but no `release`"),
            "{:?}",
            elsewhere.warnings
        );
        let err = Config::from_raw(&raw(&[("path", "d"), ("expect-assets", "a[")]), false)
            .expect_err("bad glob");
        assert_eq!(err.errors[0].input, "expect-assets");
    }

    fn raw(pairs: &[(&'static str, &str)]) -> RawInputs {
        let mut raw = RawInputs::default();
        for (k, v) in pairs {
            raw.set(k, (*v).to_owned());
        }
        raw
    }

    /// The scan computes CRC-32 only for what sends or checks it: an archived artifact,
    /// or an S3 destination with `s3-checksum: crc32` (without it, the S3 request would
    /// fall back to the SHA-256 header).
    #[test]
    fn crc32_is_asked_of_the_scan_where_a_destination_uses_it() {
        let needs = |pairs: &[(&'static str, &str)]| {
            Config::from_raw(&raw(pairs), false)
                .expect("valid")
                .needs_crc32()
        };
        assert!(needs(&[
            ("path", "d"),
            ("destination", "s3://bucket/p"),
            ("s3-checksum", "crc32")
        ]));
        assert!(!needs(&[("path", "d"), ("destination", "s3://bucket/p")]));
        let c = Config::from_raw(
            &raw(&[
                ("path", "d"),
                ("destination", "s3://bucket/p"),
                ("s3-checksum", "crc32c"),
            ]),
            false,
        )
        .expect("valid");
        assert!(c.needs_crc32c() && !c.needs_crc32());
        assert!(!needs(&[
            ("path", "d"),
            ("destination", "./out"),
            ("s3-checksum", "crc32")
        ]));
        assert!(needs(&[("path", "d"), ("destination", "artifact")]));
        assert!(!needs(&[
            ("path", "d"),
            ("destination", "artifact"),
            ("archive", "false")
        ]));
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

    #[test]
    fn every_input_is_read_and_errors_keep_their_order() {
        let every_bad = raw(&[
            ("path", "# c"),
            ("destination", "none\nartifact"),
            ("name", "a:b"),
            ("if-no-files-found", "x"),
            ("include-hidden-files", "x"),
            ("overwrite", "x"),
            ("retention-days", "0"),
            ("compression-level", "10"),
            ("archive", "x"),
            ("tag", "v 1"),
            ("draft", "x"),
            ("prerelease", "x"),
            ("make-latest", "x"),
            ("release-id", "abc"),
            ("s3-endpoint", "x"),
            ("s3-region", "a_b"),
            ("s3-path-style", "x"),
            ("checksums", "a/b"),
            ("secrets", "x"),
            ("secrets-allow", "[\nok/*\n{a"),
            ("duplicates", "x"),
            ("max-file-size", "2G"),
            ("max-total-size", "2G"),
            ("upload-concurrency", "0"),
            ("check-run", "x"),
            ("summary", "x"),
        ]);
        let err = Config::from_raw(&every_bad, true).unwrap_err();
        let names: Vec<_> = err.errors.iter().map(|e| e.input).collect();
        assert_eq!(
            names,
            [
                "path",
                "destination",
                "name",
                "if-no-files-found",
                "include-hidden-files",
                "overwrite",
                "retention-days",
                "compression-level",
                "archive",
                "draft",
                "prerelease",
                "make-latest",
                "release-id",
                "tag",
                "s3-endpoint",
                "s3-region",
                "s3-path-style",
                "checksums",
                "secrets",
                "secrets-allow",
                "secrets-allow",
                "duplicates",
                "max-file-size",
                "max-total-size",
                "upload-concurrency",
                "check-run",
                "summary",
            ]
        );
    }

    #[test]
    fn s3_settings_without_an_s3_destination_are_warned_about() {
        let given = [
            ("path", "d"),
            ("s3-region", "eu-1"),
            ("s3-path-style", "true"),
        ];
        let c = Config::from_raw(&raw(&given), false).expect("valid");
        assert_eq!(
            c.warnings,
            [
                "input `s3-region` is set but no s3:// destination is given; it is ignored",
                "input `s3-path-style` is set but no s3:// destination is given; it is ignored",
            ]
        );
        let with_s3 = [&given[..], &[("destination", "s3://bucket/p")]].concat();
        let c = Config::from_raw(&raw(&with_s3), false).expect("valid");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn names_forbid_what_paths_forbid_and_both_separators() {
        let mut expected = crate::select::FORBIDDEN_PATH_CHARS.to_vec();
        expected.extend(['\\', '/']);
        assert_eq!(FORBIDDEN_NAME_CHARS, expected);
    }
}
