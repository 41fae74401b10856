//! The `destination` input: one target per line.

use std::fmt;
use std::path::PathBuf;

/// Where a run ships its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// A GitHub Actions artifact.
    Artifact,
    /// Assets of a GitHub Release.
    Release,
    /// Objects under `s3://bucket/prefix`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// A local directory (as written; resolved against the working directory when used).
    Directory(PathBuf),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Artifact => f.write_str("artifact"),
            Destination::Release => f.write_str("release"),
            Destination::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Destination::Directory(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The accepted forms, for error messages.
pub(crate) const ACCEPTED: &str = "use artifact, release, none, s3://bucket/prefix, or a directory path such as ./out or /tmp/out";

/// Parses one non-empty, trimmed line. `none` is handled by the caller.
pub(crate) fn parse_destination(line: &str) -> Result<Destination, String> {
    match line {
        "artifact" => return Ok(Destination::Artifact),
        "release" => return Ok(Destination::Release),
        _ => {}
    }
    if let Some((scheme, rest)) = line.split_once("://") {
        if !scheme.eq_ignore_ascii_case("s3") {
            return Err(format!(
                "`{line}`: the `{scheme}://` scheme is not supported; {ACCEPTED}"
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        validate_bucket(bucket).map_err(|why| format!("`{line}`: {why}"))?;
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(format!(
                "`{line}`: the key prefix must not contain `.` or `..` segments"
            ));
        }
        return Ok(Destination::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        });
    }
    // A bare word is almost always a typo of a keyword ("artefact", "s3"): ask for a path
    // that looks like one rather than silently creating a directory with that name.
    let looks_like_path =
        line.contains('/') || line.contains('\\') || line.starts_with('.') || line.starts_with('~');
    if looks_like_path {
        Ok(Destination::Directory(PathBuf::from(line)))
    } else {
        Err(format!(
            "`{line}` is not a destination; {ACCEPTED} (write a directory as ./{line})"
        ))
    }
}

/// S3 bucket naming rules (the subset that matters for addressing).
fn validate_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ok_ends = bucket
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if (3..=63).contains(&bucket.len()) && ok_chars && ok_ends && !bucket.contains("..") {
        Ok(())
    } else {
        Err(format!(
            "`{bucket}` is not a valid bucket name (3-63 characters: lower-case letters, digits, `.` and `-`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_urls_and_paths() {
        assert_eq!(parse_destination("artifact"), Ok(Destination::Artifact));
        assert_eq!(parse_destination("release"), Ok(Destination::Release));
        assert_eq!(
            parse_destination("s3://my-bucket/builds/abc/"),
            Ok(Destination::S3 {
                bucket: "my-bucket".into(),
                prefix: "builds/abc".into()
            })
        );
        assert_eq!(
            parse_destination("s3://my-bucket"),
            Ok(Destination::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            parse_destination("./out"),
            Ok(Destination::Directory("./out".into()))
        );
        assert_eq!(
            parse_destination("/tmp/x"),
            Ok(Destination::Directory("/tmp/x".into()))
        );
    }

    #[test]
    fn typos_and_bad_urls_are_refused() {
        for bad in [
            "artefact",
            "s3",
            "gs://bucket",
            "s3://B",
            "s3://ab",
            "s3://bucket/../x",
            "https://x/y",
        ] {
            assert!(parse_destination(bad).is_err(), "{bad} must be refused");
        }
    }
}
