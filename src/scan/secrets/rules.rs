//! The credential rules: what each one looks for and how a candidate is confirmed.
//!
//! Patterns follow gitleaks' rules (see reference/releases-and-distribution.md, section E).
//! Every rule starts with a fixed anchor string so that one Aho-Corasick pass (SIMD
//! "Teddy" search) finds all candidates; the rest of the rule runs only at an anchor. This
//! keeps the scan close to memory speed on binaries and text alike.

use base64::Engine as _;

/// A credential rule, identified by a stable id (used in `secrets-allow` docs and the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rule {
    /// `ghp_` + 36: classic personal access token.
    GithubPat,
    /// `gho_` + 36: OAuth access token.
    GithubOauth,
    /// `ghu_`/`ghs_` + 36 or more: GitHub App user or installation token (`GITHUB_TOKEN`).
    GithubAppToken,
    /// `ghr_` + 36: refresh token.
    GithubRefresh,
    /// `github_pat_` + 82: fine-grained personal access token.
    GithubFineGrainedPat,
    /// `base64("x-access-token:<token>")`, as actions/checkout persists it in `.git/config`.
    CheckoutToken,
    /// `extraheader = AUTHORIZATION: basic <base64 user:password>` with other credentials.
    ExtraheaderBasicAuth,
    /// `ACTIONS_RUNTIME_TOKEN=eyJ...` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: a JWT in an env dump.
    ActionsRuntimeToken,
    /// `AKIA...` and friends: an AWS access key id.
    AwsAccessKeyId,
    /// `aws_secret_access_key = <40 chars>`.
    AwsSecretAccessKey,
    /// `-----BEGIN ... PRIVATE KEY-----` with a key body.
    PrivateKey,
    /// `npm_` + 36: npm access token.
    NpmToken,
    /// `_authToken=<literal>` in an npmrc (not an `${ENV}` reference).
    NpmrcAuthToken,
    /// `"auth": "<base64>"` in a docker `config.json`.
    DockerConfigAuth,
    /// `https://user:secret@host` in `.git/config`.
    GitConfigCredentials,
    /// A `.git-credentials` file.
    GitCredentialsFile,
    /// A `.netrc` / `_netrc` file.
    NetrcFile,
    /// A `.pypirc` file.
    PypircFile,
    /// `id_rsa`, `id_ed25519`, ... (private half of an SSH key pair).
    SshPrivateKeyFile,
    /// `.env`, `.env.production`, ... (not `.env.example`).
    DotenvFile,
    /// `*.tfstate`: Terraform state holds provider credentials and outputs in clear text.
    TerraformStateFile,
    /// `gha-creds-*.json`: google-github-actions/auth credentials.
    GcpCredentialsFile,
}

impl Rule {
    /// Stable id.
    #[must_use]
    pub(crate) fn id(self) -> &'static str {
        match self {
            Rule::GithubPat => "github-pat",
            Rule::GithubOauth => "github-oauth-token",
            Rule::GithubAppToken => "github-app-token",
            Rule::GithubRefresh => "github-refresh-token",
            Rule::GithubFineGrainedPat => "github-fine-grained-pat",
            Rule::CheckoutToken => "checkout-persisted-token",
            Rule::ExtraheaderBasicAuth => "git-extraheader-credentials",
            Rule::ActionsRuntimeToken => "actions-runtime-token",
            Rule::AwsAccessKeyId => "aws-access-key-id",
            Rule::AwsSecretAccessKey => "aws-secret-access-key",
            Rule::PrivateKey => "private-key",
            Rule::NpmToken => "npm-token",
            Rule::NpmrcAuthToken => "npmrc-auth-token",
            Rule::DockerConfigAuth => "docker-config-auth",
            Rule::GitConfigCredentials => "git-config-credentials",
            Rule::GitCredentialsFile => "git-credentials-file",
            Rule::NetrcFile => "netrc-file",
            Rule::PypircFile => "pypirc-file",
            Rule::SshPrivateKeyFile => "ssh-private-key-file",
            Rule::DotenvFile => "dotenv-file",
            Rule::TerraformStateFile => "terraform-state-file",
            Rule::GcpCredentialsFile => "gcp-credentials-file",
        }
    }

    /// One line for people.
    #[must_use]
    pub(crate) fn description(self) -> &'static str {
        match self {
            Rule::GithubPat => "GitHub personal access token",
            Rule::GithubOauth => "GitHub OAuth token",
            Rule::GithubAppToken => "GitHub App or GITHUB_TOKEN installation token",
            Rule::GithubRefresh => "GitHub refresh token",
            Rule::GithubFineGrainedPat => "GitHub fine-grained personal access token",
            Rule::CheckoutToken => {
                "token persisted by actions/checkout (extraheader x-access-token)"
            }
            Rule::ExtraheaderBasicAuth => "basic-auth credentials in a git extraheader",
            Rule::ActionsRuntimeToken => {
                "GitHub Actions runtime/OIDC token (JWT) in an environment dump"
            }
            Rule::AwsAccessKeyId => "AWS access key id",
            Rule::AwsSecretAccessKey => "AWS secret access key",
            Rule::PrivateKey => "PEM private key",
            Rule::NpmToken => "npm access token",
            Rule::NpmrcAuthToken => "literal _authToken in an npmrc",
            Rule::DockerConfigAuth => "registry credentials in a docker config.json",
            Rule::GitConfigCredentials => "credentials in a remote URL of .git/config",
            Rule::GitCredentialsFile => "git credential store file",
            Rule::NetrcFile => ".netrc credentials file",
            Rule::PypircFile => ".pypirc credentials file",
            Rule::SshPrivateKeyFile => "SSH private key file",
            Rule::DotenvFile => ".env file (usually holds secrets)",
            Rule::TerraformStateFile => "Terraform state (holds credentials in clear text)",
            Rule::GcpCredentialsFile => {
                "Google Cloud credentials written by google-github-actions/auth"
            }
        }
    }
}

/// What a file's name says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// Nothing special.
    Plain,
    /// `.git/config`: remote URLs may carry credentials.
    GitConfig,
    /// `config.json`: may be a docker config with `auths`.
    DockerConfig,
    /// Risky by its name alone.
    Risky(Rule),
}

/// Classifies a relative path.
pub(crate) fn classify(rel: &str) -> FileKind {
    let mut parts = rel.rsplit('/');
    let name = parts.next().unwrap_or(rel);
    let parent = parts.next().unwrap_or("");
    match name {
        ".git-credentials" => FileKind::Risky(Rule::GitCredentialsFile),
        ".netrc" | "_netrc" => FileKind::Risky(Rule::NetrcFile),
        ".pypirc" => FileKind::Risky(Rule::PypircFile),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk" => {
            FileKind::Risky(Rule::SshPrivateKeyFile)
        }
        "config" if parent == ".git" => FileKind::GitConfig,
        "config.json" => FileKind::DockerConfig,
        _ if name == ".env" || (name.starts_with(".env.") && !is_env_template(name)) => {
            FileKind::Risky(Rule::DotenvFile)
        }
        _ if name.ends_with(".tfstate") || name.ends_with(".tfstate.backup") => {
            FileKind::Risky(Rule::TerraformStateFile)
        }
        _ if name.starts_with("gha-creds-")
            && std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            FileKind::Risky(Rule::GcpCredentialsFile)
        }
        _ => FileKind::Plain,
    }
}

fn is_env_template(name: &str) -> bool {
    let suffix = &name[".env.".len()..];
    ["example", "sample", "template", "dist", "defaults"]
        .iter()
        .any(|t| suffix.eq_ignore_ascii_case(t))
}

/// The anchors searched for, each with what confirms it.
pub(crate) const ANCHORS: &[(&str, Anchor)] = &[
    ("ghp_", Anchor::Token(Rule::GithubPat, 36, 36)),
    ("gho_", Anchor::Token(Rule::GithubOauth, 36, 36)),
    ("ghu_", Anchor::Token(Rule::GithubAppToken, 36, 255)),
    ("ghs_", Anchor::Token(Rule::GithubAppToken, 36, 255)),
    ("ghr_", Anchor::Token(Rule::GithubRefresh, 36, 36)),
    ("github_pat_", Anchor::FineGrainedPat),
    ("npm_", Anchor::Token(Rule::NpmToken, 36, 36)),
    ("eC1hY2Nlc3MtdG9rZW46", Anchor::CheckoutBase64),
    ("extraheader", Anchor::Extraheader),
    ("EXTRAHEADER", Anchor::Extraheader),
    ("ACTIONS_RUNTIME_TOKEN", Anchor::ActionsJwt),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", Anchor::ActionsJwt),
    ("AKIA", Anchor::AwsKeyId),
    ("ASIA", Anchor::AwsKeyId),
    ("ABIA", Anchor::AwsKeyId),
    ("ACCA", Anchor::AwsKeyId),
    ("A3T", Anchor::AwsKeyId),
    ("aws_secret_access_key", Anchor::AwsSecret),
    ("AWS_SECRET_ACCESS_KEY", Anchor::AwsSecret),
    ("-----BEGIN", Anchor::PemBegin),
    ("_authToken", Anchor::NpmrcAuthToken),
];

/// How an anchor is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Prefix + `min..=max` alphanumerics, word boundaries on both sides.
    Token(Rule, usize, usize),
    FineGrainedPat,
    CheckoutBase64,
    Extraheader,
    ActionsJwt,
    AwsKeyId,
    AwsSecret,
    PemBegin,
    NpmrcAuthToken,
}

/// A confirmed match: the rule and where the secret value lies in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) rule: Rule,
    pub(crate) value: std::ops::Range<usize>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn count_while(buf: &[u8], from: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    buf.get(from..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|&&b| pred(b))
        .count()
}

/// After a key that ends at `end`: an optional closing quote, `=` or `:` with spaces
/// around it, and an optional opening quote. Returns where the value starts.
fn assigned_value(buf: &[u8], end: usize) -> Option<usize> {
    let mut i = end;
    if matches!(buf.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i = skip_spaces(buf, i);
    if !matches!(buf.get(i), Some(b'=' | b':')) {
        return None;
    }
    i = skip_spaces(buf, i + 1);
    if matches!(buf.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    Some(i)
}

fn skip_spaces(buf: &[u8], mut i: usize) -> usize {
    while buf.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
        i += 1;
    }
    i
}

/// Confirms the anchor `anchor` found at `buf[start..end]`. `buf` extends far enough past
/// `end` for every rule (the scanner guarantees an overlap), or to the end of the file.
pub(crate) fn confirm(anchor: Anchor, buf: &[u8], start: usize, end: usize) -> Option<Hit> {
    match anchor {
        Anchor::Token(rule, min, max) => token(rule, min, max, buf, start, end),
        Anchor::FineGrainedPat => fine_grained_pat(buf, start, end),
        Anchor::CheckoutBase64 => checkout_base64(buf, start, end),
        Anchor::Extraheader => extraheader(buf, end),
        Anchor::ActionsJwt => actions_jwt(buf, start, end),
        Anchor::AwsKeyId => aws_key_id(buf, start, end),
        Anchor::AwsSecret => aws_secret(buf, start, end),
        Anchor::PemBegin => pem(buf, end),
        Anchor::NpmrcAuthToken => npmrc_auth_token(buf, end),
    }
}

fn token(rule: Rule, min: usize, max: usize, buf: &[u8], start: usize, end: usize) -> Option<Hit> {
    let boundary_before = start == 0 || !is_word(buf[start - 1]);
    let n = count_while(buf, end, max + 1, |b| b.is_ascii_alphanumeric());
    let after_ok = buf.get(end + n).is_none_or(|&b| !is_word(b));
    (boundary_before && (min..=max).contains(&n) && after_ok).then(|| Hit {
        rule,
        value: start..end + n,
    })
}

fn fine_grained_pat(buf: &[u8], start: usize, end: usize) -> Option<Hit> {
    let boundary_before = start == 0 || !is_word(buf[start - 1]);
    let n = count_while(buf, end, 83, is_word);
    (boundary_before && n == 82).then(|| Hit {
        rule: Rule::GithubFineGrainedPat,
        value: start..end + n,
    })
}

fn checkout_base64(buf: &[u8], start: usize, _end: usize) -> Option<Hit> {
    // Group-aligned start of a base64 string: what precedes is not base64.
    let aligned = start == 0
        || !(buf[start - 1].is_ascii_alphanumeric() || matches!(buf[start - 1], b'+' | b'/'));
    let n = count_while(buf, start, 1024, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
    });
    let decoded = decode_base64(&buf[start..start + n])?;
    let token = decoded.strip_prefix(b"x-access-token:")?;
    (aligned && token.len() >= 20).then(|| Hit {
        rule: Rule::CheckoutToken,
        value: start..start + n,
    })
}

fn extraheader(buf: &[u8], end: usize) -> Option<Hit> {
    let mut i = assigned_value(buf, end)?;
    let rest = buf.get(i..)?;
    let prefix = b"authorization:";
    if rest.len() < prefix.len() || !rest[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    i = skip_spaces(buf, i + prefix.len());
    let rest = buf.get(i..)?;
    if rest.len() < 6
        || !rest[..5].eq_ignore_ascii_case(b"basic")
        || !matches!(rest[5], b' ' | b'\t')
    {
        return None;
    }
    i = skip_spaces(buf, i + 5);
    let n = count_while(buf, i, 1024, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
    });
    let decoded = decode_base64(&buf[i..i + n])?;
    // The checkout form is reported by the base64 anchor itself.
    if decoded.starts_with(b"x-access-token:") {
        return None;
    }
    let colon = decoded.iter().position(|&b| b == b':')?;
    (colon + 1 < decoded.len()).then(|| Hit {
        rule: Rule::ExtraheaderBasicAuth,
        value: i..i + n,
    })
}

fn actions_jwt(buf: &[u8], start: usize, end: usize) -> Option<Hit> {
    let boundary_before = start == 0 || !is_word(buf[start - 1]);
    if !boundary_before {
        return None;
    }
    let i = assigned_value(buf, end)?;
    if !buf.get(i..)?.starts_with(b"eyJ") {
        return None;
    }
    let jwt_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut j = i;
    for segment in 0..3 {
        let n = count_while(buf, j, 16 * 1024, jwt_char);
        if n == 0 {
            return None;
        }
        j += n;
        if segment < 2 {
            if buf.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
    }
    Some(Hit {
        rule: Rule::ActionsRuntimeToken,
        value: i..j,
    })
}

fn aws_key_id(buf: &[u8], start: usize, end: usize) -> Option<Hit> {
    let boundary_before = start == 0 || !is_word(buf[start - 1]);
    let upper_digit = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    // `A3T` is followed by one more character than the four-letter prefixes.
    let len = 16 + usize::from(end - start == 3);
    let n = count_while(buf, end, len + 1, upper_digit);
    if !boundary_before || n != len {
        return None;
    }
    let after_ok = buf.get(end + len).is_none_or(|&b| !is_word(b));
    let value = start..end + len;
    (after_ok && !buf[value.clone()].ends_with(b"EXAMPLE")).then_some(Hit {
        rule: Rule::AwsAccessKeyId,
        value,
    })
}

fn aws_secret(buf: &[u8], _start: usize, end: usize) -> Option<Hit> {
    let i = assigned_value(buf, end)?;
    let n = count_while(buf, i, 41, |b| {
        b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
    });
    let after_ok = buf
        .get(i + n)
        .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b == b'/' || b == b'+' || b == b'='));
    let value = i..i + n;
    let is_example = memchr::memmem::find(&buf[value.clone()], b"EXAMPLE").is_some();
    (n == 40 && after_ok && !is_example).then_some(Hit {
        rule: Rule::AwsSecretAccessKey,
        value,
    })
}

fn pem(buf: &[u8], end: usize) -> Option<Hit> {
    let label_len = count_while(buf, end, 101, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b' ' | b'_' | b'-')
    });
    let label = &buf[end..end + label_len];
    let key_at = memchr::memmem::find(label, b"PRIVATE KEY-----")?;
    let body_start = end + key_at + "PRIVATE KEY-----".len();
    // A real key has a body: at least 64 base64 characters before the END line.
    // Documentation placeholders (`...`, `<key>`) have none.
    let body_end = memchr::memmem::find(buf.get(body_start..)?, b"-----END")
        .map_or(buf.len(), |e| body_start + e);
    let body = &buf[body_start..body_end.min(body_start + 8192)];
    let b64 = body
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    let junk = body
        .iter()
        .filter(|&&b| {
            !(b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'+' | b'/' | b'=' | b'\n' | b'\r' | b' ' | b':' | b',' | b'-'
                ))
        })
        .count();
    (b64 >= 64 && junk == 0).then(|| Hit {
        rule: Rule::PrivateKey,
        value: body_start..body_start + body.len().min(256),
    })
}

fn npmrc_auth_token(buf: &[u8], end: usize) -> Option<Hit> {
    let i = assigned_value(buf, end)?;
    // A literal token: token characters up to the end of the value. Environment
    // references (`${NPM_TOKEN}`) and placeholders (`<token>`) start with something else.
    let token_char = |b: u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'/' | b'=' | b'~')
    };
    let n = count_while(buf, i, 512, token_char);
    let ends_value = buf
        .get(i + n)
        .is_none_or(|&b| b.is_ascii_whitespace() || b == b'"' || b == b'\'');
    (n >= 8 && ends_value).then(|| Hit {
        rule: Rule::NpmrcAuthToken,
        value: i..i + n,
    })
}

/// Checks for file kinds whose secrets have no fixed anchor (run on those files only).
pub(crate) fn confirm_kind(kind: FileKind, buf: &[u8]) -> Vec<Hit> {
    let mut hits = Vec::new();
    match kind {
        FileKind::GitConfig => {
            // `url = https://user:secret@host/...`
            for at in memchr::memmem::find_iter(buf, b"://") {
                let start = at + 3;
                let n = count_while(buf, start, 2048, |b| {
                    !b.is_ascii_whitespace() && b != b'/' && b != b'"'
                });
                let authority = &buf[start..start + n];
                if let Some(atsign) = authority.iter().rposition(|&b| b == b'@')
                    && let Some(colon) = authority[..atsign].iter().position(|&b| b == b':')
                    && colon + 1 < atsign
                {
                    hits.push(Hit {
                        rule: Rule::GitConfigCredentials,
                        value: start + colon + 1..start + atsign,
                    });
                }
            }
        }
        FileKind::DockerConfig => {
            if memchr::memmem::find(buf, b"\"auths\"").is_none() {
                return hits;
            }
            for at in memchr::memmem::find_iter(buf, b"\"auth\"") {
                let mut i = skip_spaces(buf, at + 6);
                if buf.get(i) != Some(&b':') {
                    continue;
                }
                i = skip_spaces(buf, i + 1);
                if buf.get(i) != Some(&b'"') {
                    continue;
                }
                let n = count_while(buf, i + 1, 4096, |b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
                });
                if n >= 8 && buf.get(i + 1 + n) == Some(&b'"') {
                    hits.push(Hit {
                        rule: Rule::DockerConfigAuth,
                        value: i + 1..i + 1 + n,
                    });
                }
            }
        }
        FileKind::Plain | FileKind::Risky(_) => {}
    }
    hits
}

fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let engine = &base64::engine::general_purpose::STANDARD;
    engine.decode(text).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.strip_suffix(b"=").unwrap_or(text))
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every anchor, followed by every prefix of a tail that would complete most rules,
    /// at the very end of the buffer: confirmation must never read past it.
    #[test]
    fn confirmation_never_reads_past_the_buffer() {
        let tails = [
            "A".repeat(300),
            format!(
                " = AUTHORIZATION: basic {}",
                "eC1hY2Nlc3MtdG9rZW46".repeat(4)
            ),
            format!(
                "=eyJ{}.{}.{}",
                "a".repeat(40),
                "b".repeat(40),
                "c".repeat(40)
            ),
            format!(" OPENSSH PRIVATE KEY-----\n{}\n-----END", "Q".repeat(100)),
            format!("\": \"{}\"", "Z".repeat(60)),
        ];
        for (anchor_text, anchor) in ANCHORS {
            for tail in &tails {
                let full = format!("{anchor_text}{tail}");
                for cut in anchor_text.len()..=full.len() {
                    let buf = &full.as_bytes()[..cut];
                    let _ = confirm(*anchor, buf, 0, anchor_text.len());
                    let _ = confirm_kind(FileKind::GitConfig, buf);
                    let _ = confirm_kind(FileKind::DockerConfig, buf);
                }
            }
        }
    }
}
