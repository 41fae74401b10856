//! The credential corpus: true positives and near misses with the verdict for each, and
//! proof that no value ever reaches a log line, output, summary or manifest.
//!
//! Tokens are assembled at run time from parts so that no complete credential-shaped
//! string is committed to the repository.

use std::collections::BTreeSet;
use std::fs;

use base64::Engine as _;

use crate::support::text::annotations;
use crate::support::{Ctx, alnum};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn upper(seed: u64, n: usize) -> String {
    alnum(seed, n * 3)
        .chars()
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        .take(n)
        .collect()
}

struct Case {
    path: String,
    content: Vec<u8>,
    /// Rules expected, as `rule@line` (line `0` for findings on the name).
    expect: &'static [&'static str],
    /// The secret values that must never appear anywhere.
    values: Vec<String>,
}

fn corpus() -> Vec<Case> {
    let pat = format!("{}{}", "ghp_", alnum(1, 36));
    let pat_in_name = format!("{}{}", "ghp_", alnum(17, 36));
    let gho = format!("{}{}", "gho_", alnum(2, 36));
    let ghs = format!("{}{}", "ghs_", alnum(3, 36));
    let ghs_long = format!("{}{}", "ghs_", alnum(4, 60));
    let ghr = format!("{}{}", "ghr_", alnum(5, 36));
    let fine = format!("{}{}_{}", "github_pat_", alnum(6, 22), alnum(7, 59));
    let npm = format!("{}{}", "npm_", alnum(8, 36));
    let aws_key_id = format!("{}{}", "AKIA", upper(9, 16));
    let aws_session_key_id = format!("{}{}", "ASIA", upper(10, 16));
    let aws_secret = alnum(11, 40);
    let checkout = b64(&format!("x-access-token:{ghs}"));
    let basic = b64("deploy-bot:hunter2-but-longer");
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{}.{}", alnum(12, 120), alnum(13, 80));
    let pem_body: String = (0..6).map(|i| alnum(20 + i, 64) + "\n").collect();
    let docker_auth = b64(&format!("user:{}", alnum(14, 20)));
    let git_password = alnum(15, 24);
    let npmrc_token = alnum(16, 36);

    let mut big = vec![0u8; 700 * 1024];
    for (i, b) in big.iter_mut().enumerate() {
        // Arbitrary bytes, but no line feeds so line numbers are predictable.
        *b = match (i * 7 % 251) as u8 {
            b'\n' => 0,
            other => other,
        };
    }
    // A token straddling the scanner's internal window boundary (256 KiB) and another deep in a binary.
    let at = 256 * 1024 - 10;
    big[at - 1] = b'\n';
    big[at..at + pat.len()].copy_from_slice(pat.as_bytes());
    big[at + pat.len()] = b' ';
    let at2 = 600 * 1024;
    big[at2 - 1] = b'\n';
    big[at2..at2 + aws_key_id.len()].copy_from_slice(aws_key_id.as_bytes());
    big[at2 + aws_key_id.len()] = b'\n';

    let c =
        |path: &str, content: String, expect: &'static [&'static str], values: Vec<&String>| Case {
            path: path.to_owned(),
            content: content.into_bytes(),
            expect,
            values: values.into_iter().cloned().collect(),
        };
    vec![
        c("pat.txt", format!("export TOKEN={pat}\n"), &["github-pat@1"], vec![&pat]),
        c("oauth.json", format!("{{\n  \"token\": \"{gho}\"\n}}\n"), &["github-oauth-token@2"], vec![&gho]),
        c("app.log", format!("line\nline\nusing {ghs} now\n"), &["github-app-token@3"], vec![&ghs]),
        c("app-long.log", format!("{ghs_long}\n"), &["github-app-token@1"], vec![&ghs_long]),
        c("refresh.txt", format!("r={ghr}"), &["github-refresh-token@1"], vec![&ghr]),
        c("fine.txt", format!("\n\n{fine}\n"), &["github-fine-grained-pat@3"], vec![&fine]),
        c("npm.txt", format!("NPM={npm}\n"), &["npm-token@1"], vec![&npm]),
        c("keys.ini", format!("[default]\naws_access_key_id = {aws_key_id}\naws_secret_access_key = {aws_secret}\n"), &["aws-access-key-id@2", "aws-secret-access-key@3"], vec![&aws_key_id, &aws_secret]),
        c("session.env.txt", format!("AWS_ACCESS_KEY_ID={aws_session_key_id}\n"), &["aws-access-key-id@1"], vec![&aws_session_key_id]),
        c("repo/.git/config", format!("[core]\n\tbare = false\n[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic {checkout}\n"), &["checkout-persisted-token@4"], vec![&checkout, &ghs]),
        c("other/.git/config", format!("[remote \"origin\"]\n\turl = https://bot:{git_password}@example.com/r.git\n"), &["git-config-credentials@2"], vec![&git_password]),
        c("header.txt", format!("git config http.extraheader=\"AUTHORIZATION: basic {basic}\"\n"), &["git-extraheader-credentials@1"], vec![&basic]),
        c("env-dump.txt", format!("HOME=/home/runner\nACTIONS_RUNTIME_TOKEN={jwt}\n"), &["actions-runtime-token@2"], vec![&jwt]),
        c("env.json", format!("{{\"ACTIONS_ID_TOKEN_REQUEST_TOKEN\": \"{jwt}\"}}"), &["actions-runtime-token@1"], vec![&jwt]),
        c("key.pem", format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{pem_body}-----END OPENSSH PRIVATE KEY-----\n"), &["private-key@1"], vec![&pem_body]),
        c("docker/config.json", format!("{{\"auths\": {{\"ghcr.io\": {{\"auth\": \"{docker_auth}\"}}}}}}"), &["docker-config-auth@1"], vec![&docker_auth]),
        c("pkg/.npmrc", format!("//registry.npmjs.org/:_authToken={npmrc_token}\n"), &["npmrc-auth-token@1"], vec![&npmrc_token]),
        c("creds/.git-credentials", "https://u:p@github.com\n".into(), &["git-credentials-file@0"], vec![]),
        c("creds/.netrc", "machine x login y password z\n".into(), &["netrc-file@0"], vec![]),
        c("creds/.pypirc", "[pypi]\n".into(), &["pypirc-file@0"], vec![]),
        c("ssh/id_ed25519", "not actually a key\n".into(), &["ssh-private-key-file@0"], vec![]),
        c("conf/.env.production", "A=1\n".into(), &["dotenv-file@0"], vec![]),
        c("infra/prod.tfstate", "{}\n".into(), &["terraform-state-file@0"], vec![]),
        c("gha-creds-1a2b.json", "{}\n".into(), &["gcp-credentials-file@0"], vec![]),
        c(&format!("named-{pat_in_name}.txt"), "innocent\n".into(), &["github-pat@0"], vec![&pat_in_name]),
        Case { path: "core.bin".into(), content: big, expect: &["github-pat@2", "aws-access-key-id@3"], values: vec![pat.clone(), aws_key_id.clone()] },
        // Near misses: nothing to report.
        c("near/short.txt", format!("ghp_{}\n", alnum(30, 35)), &[], vec![]),
        c("near/long.txt", format!("ghp_{}\n", alnum(31, 37)), &[], vec![]),
        c("near/prefixed.txt", format!("xghp_{}\n", alnum(32, 36)), &[], vec![]),
        c("near/aws-docs.md", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n".into(), &[], vec![]),
        c("near/random.b64", (0..200).map(|i| b64(&alnum(40 + i, 48))).collect::<Vec<_>>().join("\n"), &[], vec![]),
        c("near/pubkey.pem", format!("-----BEGIN PUBLIC KEY-----\n{pem_body}-----END PUBLIC KEY-----\n"), &[], vec![]),
        c("near/placeholder.md", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n".into(), &[], vec![]),
        c("near/npmrc-env/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n".into(), &[], vec![]),
        c("near/placeholder/.npmrc", "//registry.npmjs.org/:_authToken=<your-token-here>\n".into(), &[], vec![]),
        c("near/masked.txt", "extraheader = AUTHORIZATION: basic ***\n".into(), &[], vec![]),
        c("near/jwt-no-name.txt", format!("token: {jwt}\n"), &[], vec![]),
        c("near/.env.example", "API_KEY=changeme\n".into(), &[], vec![]),
        c("near/upper.txt", format!("AKIA{}\n", upper(50, 15)), &[], vec![]),
        c("near/config.json", format!("{{\"auth\": \"{docker_auth}\"}}"), &[], vec![]),
    ]
}

fn write_corpus(ctx: &Ctx) -> Vec<Case> {
    let cases = corpus();
    for case in &cases {
        ctx.file(&format!("out/{}", case.path), &case.content);
    }
    cases
}

#[test]
fn corpus_verdicts() {
    let ctx = Ctx::new();
    let cases = write_corpus(&ctx);
    let run = ctx.action(&[
        ("path", "out"),
        ("destination", "./published"),
        ("include-hidden-files", "true"),
    ]);
    assert_eq!(run.code, 3, "findings stop the run\n{}", run.log());
    assert!(!ctx.ws.join("published").exists());

    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&run.outputs["manifest"]).expect("manifest"))
            .expect("json");
    let mut got: BTreeSet<(String, String)> = BTreeSet::new();
    for f in manifest["findings"].as_array().expect("findings") {
        let line = f["line"].as_u64().unwrap_or(0);
        got.insert((
            f["path"].as_str().expect("path").to_owned(),
            format!("{}@{line}", f["rule"].as_str().expect("rule")),
        ));
    }
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    for case in &cases {
        for e in case.expect {
            want.insert((case.path.clone(), (*e).to_owned()));
        }
    }
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed (false negatives): {missed:#?}\nunexpected (false positives): {extra:#?}"
    );
    assert_eq!(run.outputs["findings"], want.len().to_string());

    // No value anywhere: log, outputs, summary, manifest, checksums.
    let manifest_text = fs::read_to_string(&run.outputs["manifest"]).expect("manifest");
    let checksums = fs::read_to_string(&run.outputs["checksums"]).expect("checksums");
    let shown = format!(
        "{}\n{}\n{:?}\n{}",
        run.stdout, run.stderr, run.outputs, run.summary
    );
    for case in &cases {
        for value in &case.values {
            // Nothing people read may hold a value, even one that is part of a file name.
            assert!(
                !shown.contains(value.as_str()),
                "value from {} leaked into the log, outputs or summary",
                case.path
            );
            // The manifest and checksums list real file names, so only content values are checked there.
            if !case.path.contains(value.as_str()) {
                assert!(
                    !manifest_text.contains(value.as_str()),
                    "value from {} leaked into the manifest",
                    case.path
                );
                assert!(
                    !checksums.contains(value.as_str()),
                    "value from {} leaked into the checksums",
                    case.path
                );
            }
        }
    }
    assert!(
        run.stdout.contains("named-***.txt"),
        "the name is shown redacted:\n{}",
        run.stdout
    );
    // An annotation per finding (file, line, rule and fingerprint, never the value), the
    // first ten, then how many more there are.
    insta::assert_snapshot!(annotations(&run.stdout), @r#"
    ::error title=Credential found,file=out/app-long.log,line=1::GitHub App or GITHUB_TOKEN installation token in `app-long.log`:1 [rule github-app-token, fingerprint d78b76ddef03]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/app.log,line=3::GitHub App or GITHUB_TOKEN installation token in `app.log`:3 [rule github-app-token, fingerprint 74c630717230]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/conf/.env.production::.env file (usually holds secrets) in `conf/.env.production` (file name) [rule dotenv-file, fingerprint 2988580d334e]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/core.bin,line=2::GitHub personal access token in `core.bin`:2 [rule github-pat, fingerprint 91906b50a3ca]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/core.bin,line=3::AWS access key id in `core.bin`:3 [rule aws-access-key-id, fingerprint 35e98ae3a84b]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/creds/.git-credentials::git credential store file in `creds/.git-credentials` (file name) [rule git-credentials-file, fingerprint 88567b7b2612]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/creds/.netrc::.netrc credentials file in `creds/.netrc` (file name) [rule netrc-file, fingerprint 07a17e27064d]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/creds/.pypirc::.pypirc credentials file in `creds/.pypirc` (file name) [rule pypirc-file, fingerprint 1c8a102a8818]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=Credential found,file=out/docker/config.json,line=1::registry credentials in a docker config.json in `docker/config.json`:1 [rule docker-config-auth, fingerprint 60ae07ac2447]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::error title=stevedore::…and 19 more errors; the job summary and the manifest list them all
    ::warning title=Duplicate files,file=out/gha-creds-1a2b.json::2 files have identical content (3 B each): gha-creds-1a2b.json, infra/prod.tfstate
    ::warning title=stevedore::the `hashes` output is left empty: a file name in the checksums file looks like a credential; read the file at the `checksums` output instead
    "#);
}

#[test]
fn warn_allow_and_off() {
    let ctx = Ctx::new();
    let pat = format!("{}{}", "ghp_", alnum(99, 36));
    ctx.file("out/a.txt", format!("{pat}\n"));
    ctx.file("out/b.txt", "clean\n");

    let run = ctx.action(&[
        ("path", "out"),
        ("destination", "./pub"),
        ("secrets", "warn"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(annotations(&run.stdout), @"::warning title=Credential found,file=out/a.txt,line=1::GitHub personal access token in `a.txt`:1 [rule github-pat, fingerprint 8adb46562160]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`");
    assert_eq!(run.outputs["findings"], "1");
    assert!(ctx.ws.join("pub/a.txt").exists());

    let run = ctx.action(&[
        ("path", "out"),
        ("destination", "none"),
        ("secrets-allow", "a.*"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["findings"], "0");
    assert!(
        run.summary.contains("allowed by `secrets-allow`"),
        "{}",
        run.summary
    );

    let run = ctx.action(&[("path", "out"), ("destination", "none"), ("secrets", "off")]);
    assert_eq!(run.code, 0);
    assert_eq!(run.outputs["findings"], "0");
    assert!(!run.summary.contains("Credential findings"));
}

#[test]
fn allow_globs_follow_path_semantics() {
    let ctx = Ctx::new();
    let pat = format!("{}{}", "ghp_", alnum(98, 36));
    ctx.file("out/a.txt", format!("{pat}\n"));
    ctx.file("out/sub/a.txt", format!("{pat}\n"));
    // `*` stays within one directory: the nested file is still reported.
    let run = ctx.action(&[
        ("path", "out"),
        ("destination", "none"),
        ("secrets-allow", "*.txt"),
    ]);
    assert_eq!(run.code, 3, "{}", run.log());
    assert_eq!(run.outputs["findings"], "1");
    insta::assert_snapshot!(annotations(&run.stdout), @r#"
    ::error title=Credential found,file=out/sub/a.txt,line=1::GitHub personal access token in `sub/a.txt`:1 [rule github-pat, fingerprint fa459dd4c506]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`
    ::warning title=Duplicate files,file=out/a.txt::2 files have identical content (41 B each): a.txt, sub/a.txt
    "#);
    // `**` crosses directories.
    let run = ctx.action(&[
        ("path", "out"),
        ("destination", "none"),
        ("secrets-allow", "**/*.txt"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["findings"], "0");
}
