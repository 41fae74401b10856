//! Parsers for single input values. Each returns a message that says what is accepted;
//! the caller adds the input name.

/// Booleans exactly as `@actions/core`'s `getBooleanInput` accepts them.
pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(format!(
            "`{other}` is not a boolean; use one of true, True, TRUE, false, False, FALSE"
        )),
    }
}

/// One of a fixed set of words, compared exactly (after trimming).
pub(crate) fn parse_choice<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, String> {
    let value = value.trim();
    choices
        .iter()
        .find(|(word, _)| *word == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let words: Vec<_> = choices.iter().map(|(w, _)| *w).collect();
            format!("`{value}` is not accepted; use one of {}", words.join(", "))
        })
}

/// A whole number within `min..=max`.
pub(crate) fn parse_int(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let value = value.trim();
    // Digits only: Rust's parser would also take a sign (`+5`).
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u64>() {
        Ok(n) if digits && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{value}` is not a whole number from {min} to {max}"
        )),
    }
}

/// An S3-compatible endpoint: an `http(s)://` URL with a host, kept without a trailing
/// `/` so object paths join with exactly one.
pub(crate) fn parse_endpoint(value: &str) -> Result<String, String> {
    let value = value.trim();
    if (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
    {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "`{value}` is not an endpoint URL; use e.g. https://s3.example.com or http://127.0.0.1:9000"
        ))
    }
}

/// An S3 region name: it becomes part of the signing scope and, with AWS, of the host
/// name, so only letters, digits and `-`.
pub(crate) fn parse_region(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(value.to_owned())
    } else {
        Err(format!("`{value}` is not a region name such as us-east-1"))
    }
}

const SIZE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", 1000),
    ("mb", 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
    ("tb", 1000 * 1000 * 1000 * 1000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Longest file name most file systems (and GitHub's names) take, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Why `name` cannot be a file or artifact name on any runner, if it cannot: control
/// characters (a line break would also split the checksums file's lines) or more than
/// 255 bytes.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "`{}` contains the control character {}; use printable characters only",
            name.escape_debug(),
            c.escape_unicode()
        ));
    }
    (name.len() > MAX_NAME_BYTES).then(|| {
        format!(
            "is {} bytes long; names are limited to {MAX_NAME_BYTES} bytes",
            name.len()
        )
    })
}

/// A byte size: a number with an optional unit, `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), unit case ignored. Single letters such as `G`
/// are refused because they are ambiguous between the two families.
pub(crate) fn parse_size(value: &str) -> Result<u64, String> {
    let accepted = "use a number with an optional unit, e.g. 500MB, 2GiB, 1.5GB or 1048576";
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    if number.is_empty() {
        return Err(format!("`{value}` is not a size; {accepted}"));
    }
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| format!("`{value}` has an unknown unit; {accepted}"))?
    };
    let bytes = match number.split_once('.') {
        None => number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier)),
        Some((whole, frac)) if !frac.is_empty() && frac.len() <= 9 && multiplier > 1 => {
            let whole = if whole.is_empty() {
                Some(0)
            } else {
                whole.parse::<u64>().ok()
            };
            let scale = 10u64.pow(u32::try_from(frac.len()).unwrap_or(9));
            let frac_n = frac.parse::<u64>().ok();
            whole.zip(frac_n).and_then(|(w, f)| {
                let whole_bytes = w.checked_mul(multiplier)?;
                let frac_bytes = u128::from(f) * u128::from(multiplier) / u128::from(scale);
                whole_bytes.checked_add(u64::try_from(frac_bytes).ok()?)
            })
        }
        Some(_) => None,
    };
    match bytes {
        Some(0) => Err(format!("`{value}` must be greater than zero")),
        Some(n) => Ok(n),
        None => Err(format!("`{value}` is not a size; {accepted}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_the_toolkit() {
        for t in ["true", "True", "TRUE", " true "] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["false", "False", "FALSE"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
        for bad in ["yes", "1", "tRue", "on"] {
            assert!(parse_bool(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("500 mb"), Ok(500_000_000));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("0.5KiB"), Ok(512));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        for bad in [
            "",
            "2G",
            "abc",
            "-1",
            "1e9",
            "1.5",
            "2 XB",
            "0",
            "99999999999TiB",
            "1.2.3MB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn names_are_printable_and_bounded() {
        assert!(name_problem("SHA256SUMS").is_none());
        assert!(name_problem(&"a".repeat(255)).is_none());
        assert!(name_problem(&"a".repeat(256)).is_some());
        assert!(name_problem("a\tb").is_some());
        assert!(name_problem("a\u{7f}b").is_some());
    }

    #[test]
    fn integers_and_choices() {
        assert!(parse_int("+5", 0, 9).is_err(), "no sign");
        assert!(parse_int("-0", 0, 9).is_err(), "no sign");
        assert_eq!(parse_int(" 5 ", 0, 9), Ok(5));
        assert_eq!(parse_int("9", 0, 9), Ok(9));
        assert!(parse_int("10", 0, 9).is_err());
        assert!(parse_int("-1", 0, 9).is_err());
        assert_eq!(parse_choice("warn", &[("warn", 1), ("error", 2)]), Ok(1));
        let err = parse_choice("fail", &[("warn", 1), ("error", 2)]).unwrap_err();
        assert!(err.contains("warn, error"), "{err}");
    }
}
