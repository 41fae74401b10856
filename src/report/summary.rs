//! The job summary: GitHub-flavoured markdown, bounded well under the runner's 1 MiB
//! per-step limit (an oversize summary is dropped whole). Every list is capped with an
//! "…and N more" line; the manifest holds the complete data.

use std::fmt::Write as _;

use super::Outcome;
use super::format::{code, markdown, shorten};
use crate::units::throughput;
use crate::units::{bytes, count, duration, plural, rate};
use crate::upload::DestinationReport;
use crate::upload::release::ReleaseReport;

/// Budget for the whole summary; the runner refuses more than 1 MiB per step.
pub(crate) const MAX_BYTES: usize = 900 * 1024;
/// Rows per table.
const MAX_ROWS: usize = 100;
/// Characters of a path shown in a cell.
const MAX_PATH: usize = 200;

/// A path or name, shortened, as a code span.
fn name(text: &str) -> String {
    code(&shorten(text, MAX_PATH))
}

/// Renders the summary.
#[must_use]
pub(crate) fn render(outcome: &Outcome<'_>) -> String {
    let mut s = String::new();
    let open = outcome
        .manifest()
        .map_or(0, crate::scan::Manifest::open_findings);
    match (outcome.error, open) {
        (Some(_), _) => {
            let _ = writeln!(s, "## ❌ stevedore\n");
        }
        // `secrets: warn` let them through: the run passed, but not cleanly.
        (None, 1..) => {
            let _ = writeln!(
                s,
                "## ⚠️ stevedore: {} shipped\n",
                plural(open as u64, "credential finding")
            );
        }
        (None, 0) => {
            let _ = writeln!(s, "## ✅ stevedore\n");
        }
    }
    if let Some(error) = outcome.error {
        let _ = writeln!(s, "> [!CAUTION]");
        let messages = error.messages();
        for message in &messages {
            // Several errors (every bad input at once) as a list, one per line.
            let bullet = if messages.len() > 1 { "- " } else { "" };
            let _ = writeln!(s, "> {bullet}{}", markdown(message));
        }
        let _ = writeln!(s, ">\n> Exit code {}.\n", error.exit_code().code());
    }

    if let Some(m) = outcome.manifest() {
        let groups = m.duplicates.len();
        let _ = writeln!(
            s,
            "| Files | Size | Duplicates | Findings | Scan time | Throughput |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| {} | {} | {} in {} | {} | {} | {} |\n",
            count(m.records.len() as u64),
            bytes(m.total_bytes),
            count(m.duplicate_files() as u64),
            plural(groups as u64, "group"),
            count(m.open_findings() as u64),
            duration(m.elapsed),
            rate(throughput(m.total_bytes, m.elapsed)),
        );
        let _ = write!(s, "Root {}", name(&m.selection.root.to_string_lossy()));
        let _ = writeln!(
            s,
            " · total time {} · {}\n",
            duration(outcome.elapsed),
            documents_line(outcome)
        );
    }

    destinations(&mut s, outcome);
    artifacts(&mut s, outcome);
    s3_objects(&mut s, outcome);
    release_assets(&mut s, outcome);
    policy(&mut s, outcome);
    if let Some(m) = outcome.manifest() {
        findings(&mut s, m);
        duplicates(&mut s, m);
        largest(&mut s, m);
    }

    if s.len() > MAX_BYTES {
        let mut cut = MAX_BYTES - 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = s[..cut].rfind('\n').unwrap_or(cut);
        s.truncate(cut);
        s.push_str("\n\n…summary truncated to stay under GitHub's 1 MiB limit; the manifest has everything.\n");
    }
    s
}

fn more(s: &mut String, total: usize, shown: usize, what: &str) {
    if total > shown {
        let _ = writeln!(s, "\n…and {} more {what}.", count((total - shown) as u64));
    }
}

fn destinations(s: &mut String, outcome: &Outcome<'_>) {
    let planned = outcome
        .config()
        .map(|c| c.destinations.len())
        .unwrap_or_default();
    if outcome.destinations().is_empty() && planned == 0 {
        if outcome.manifest().is_some() {
            let _ = writeln!(
                s,
                "No destination: files were scanned, nothing was uploaded.\n"
            );
        }
        return;
    }
    let _ = writeln!(
        s,
        "### Destinations\n\n| Destination | Result | Files | Size | Time |\n|---|---|---:|---:|---:|"
    );
    let selected = outcome.manifest().map_or(0, |m| m.records.len());
    let checksums = outcome
        .config()
        .map_or("SHA256SUMS", |c| c.checksums_name.as_str());
    for d in outcome
        .destinations()
        .iter()
        .map(DestinationReport::shipped)
    {
        let result = match &d.result {
            Ok(location) => format!("✅ {}", name(location)),
            Err(message) => format!("❌ {}", markdown(message)),
        };
        // The header counts the selection; a destination also holds the documents.
        let files = match d.files.checked_sub(selected) {
            Some(2) if selected > 0 => format!(
                "{} + `{}`, `{}`",
                count(selected as u64),
                markdown(checksums),
                crate::config::MANIFEST_NAME
            ),
            Some(1) if selected > 0 => {
                format!("{} + `{}`", count(selected as u64), markdown(checksums))
            }
            _ => count(d.files as u64),
        };
        let _ = writeln!(
            s,
            "| {} | {result} | {files} | {} | {} |",
            name(&d.destination),
            bytes(d.bytes),
            duration(d.elapsed)
        );
    }
    if let Some(config) = outcome.config() {
        for d in config
            .destinations
            .iter()
            .skip(outcome.destinations().len())
        {
            let _ = writeln!(
                s,
                "| {} | ⏸️ not uploaded | 0 | 0 B | - |",
                name(&d.to_string())
            );
        }
    }
    s.push('\n');
}

fn artifacts(s: &mut String, outcome: &Outcome<'_>) {
    let all: Vec<&crate::upload::artifact::ArtifactReport> = outcome
        .destinations()
        .iter()
        .flat_map(DestinationReport::artifacts)
        .collect();
    if all.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### Artifacts\n\n| Artifact | Files | Size | SHA-256 | Upload time | Speed |\n|---|---:|---:|---|---:|---:|"
    );
    for a in all.iter().take(MAX_ROWS) {
        let title = match &a.url {
            // The URL is built from runner variables, not from file names.
            Some(url) => format!("[{}]({url})", name(&a.name)),
            None => name(&a.name),
        };
        let _ = writeln!(
            s,
            "| {title}{} | {} | {} | {} | {} | {} |",
            a.id.map(|id| format!(" (ID {id})")).unwrap_or_default(),
            count(a.files as u64),
            bytes(a.size),
            a.digest.as_deref().map_or_else(|| "—".to_owned(), code),
            duration(a.elapsed),
            rate(throughput(a.size, a.elapsed))
        );
    }
    more(s, all.len(), MAX_ROWS, "artifacts");
    s.push('\n');
}

/// The release's assets: what landed (with links) and what did not.
fn release_assets(s: &mut String, outcome: &Outcome<'_>) {
    for r in outcome
        .destinations()
        .iter()
        .filter_map(DestinationReport::release)
    {
        let Some(tag) = &r.tag else { continue };
        // Another job or an earlier run may have published it: never "left unpublished"
        // about a release people can see.
        let already = r.release_published == Some(true);
        let state = if r.published {
            "published"
        } else if !r.waiting.is_empty() && !already {
            "draft, waiting for the other jobs"
        } else if r.failed.is_empty() {
            "unchanged state"
        } else if already {
            "already published, this job's assets missing"
        } else {
            "left unpublished"
        };
        let title = match &r.url {
            Some(url) => format!("[{}]({url})", name(tag)),
            None => name(tag),
        };
        let _ = writeln!(
            s,
            "### Release {title}: {state}\n\n| Asset | Result |\n|---|---|"
        );
        let rows = r
            .assets
            .iter()
            .map(|(asset, _)| format!("| {} | ✅ uploaded |", name(asset)))
            .chain(
                r.failed
                    .iter()
                    .map(|(asset, why)| format!("| {} | ❌ {} |", name(asset), markdown(why))),
            );
        let total = r.assets.len() + r.failed.len();
        for row in rows.take(MAX_ROWS) {
            let _ = writeln!(s, "{row}");
        }
        more(s, total, MAX_ROWS, "assets");
        s.push('\n');
        release_set(s, r);
    }
}

/// With `expect-assets`: the lines still waiting and every asset the release holds.
fn release_set(s: &mut String, r: &ReleaseReport) {
    if !r.waiting.is_empty() {
        let lines: Vec<String> = r.waiting.iter().map(|l| name(l)).collect();
        let _ = writeln!(
            s,
            "`expect-assets` line(s) no asset matches yet: {}\n",
            lines.join(", ")
        );
    }
    if !r.present.is_empty() {
        let _ = writeln!(
            s,
            "The release holds {}:\n",
            plural(r.present.len() as u64, "asset")
        );
        for asset in r.present.iter().take(MAX_ROWS) {
            let _ = writeln!(s, "- {}", name(asset));
        }
        more(s, r.present.len(), MAX_ROWS, "assets");
        s.push('\n');
    }
}

/// The objects that landed, so a failed run says exactly what is in the bucket.
fn s3_objects(s: &mut String, outcome: &Outcome<'_>) {
    for (shipped, uris) in outcome.destinations().iter().filter_map(|d| match d {
        DestinationReport::S3(shipped, landed) if !landed.uris.is_empty() => {
            Some((shipped, &landed.uris))
        }
        _ => None,
    }) {
        let _ = writeln!(
            s,
            "### {} in {}\n",
            plural(uris.len() as u64, "object"),
            name(&shipped.destination)
        );
        for uri in uris.iter().take(MAX_ROWS) {
            let _ = writeln!(s, "- {}", name(uri));
        }
        more(s, uris.len(), MAX_ROWS, "objects");
        s.push('\n');
    }
}

/// Where the checksums file and the manifest can be found after the job: the runner's
/// temporary directory is emptied when the job ends, so it is named only when nothing
/// shipped them.
fn documents_line(outcome: &Outcome<'_>) -> String {
    let mut places = Vec::new();
    for d in outcome.destinations() {
        let shipped = d.shipped();
        let Ok(location) = &shipped.result else {
            continue;
        };
        match d {
            DestinationReport::Artifact(_, landed) => {
                let with_documents = outcome
                    .config()
                    .is_some_and(|c| c.artifact.archive && c.artifact.documents);
                for a in landed.iter().filter(|_| with_documents) {
                    places.push(match &a.url {
                        Some(url) => format!("[{}]({url})", name(&a.name)),
                        None => format!("artifact {}", name(&a.name)),
                    });
                }
            }
            DestinationReport::Release(_, report) => {
                if let Some(url) = &report.url {
                    places.push(format!(
                        "[release {}]({url}) (the checksums file)",
                        name(report.tag.as_deref().unwrap_or("release"))
                    ));
                }
            }
            DestinationReport::Directory(_) | DestinationReport::S3(..) => {
                places.push(name(location));
            }
        }
    }
    if places.is_empty() {
        "checksums and manifest: step outputs `checksums` and `manifest` (the runner's temporary directory, emptied after the job)".to_owned()
    } else {
        format!(
            "checksums and manifest shipped with the files: {}",
            places.join(", ")
        )
    }
}

fn policy(s: &mut String, outcome: &Outcome<'_>) {
    let Some(gate) = outcome.gate() else { return };
    // Credential findings have their own table below: no bullet repeats it.
    let listed = |c: &&crate::gate::Check| {
        !(c.policy == crate::gate::Policy::Secrets
            && outcome.manifest().is_some_and(|m| !m.findings.is_empty()))
    };
    let all: Vec<_> = gate
        .violations
        .iter()
        .filter(listed)
        .map(|c| ("❌", c))
        .chain(gate.warnings.iter().filter(listed).map(|c| ("⚠️", c)))
        .collect();
    if all.is_empty() {
        return;
    }
    let _ = writeln!(s, "### Policy\n");
    for (icon, check) in all.iter().take(MAX_ROWS) {
        let _ = writeln!(
            s,
            "- {icon} **{}**: {}",
            check.policy.title(),
            markdown(&shorten(&check.message, 600))
        );
    }
    more(s, all.len(), MAX_ROWS, "policy results");
    s.push('\n');
}

fn findings(s: &mut String, m: &crate::scan::Manifest) {
    if m.findings.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### Credential findings ({})\n",
        count(m.findings.len() as u64)
    );
    let _ = writeln!(
        s,
        "Values are never shown; the fingerprint is the start of the SHA-256 of the value.\n"
    );
    let _ = writeln!(
        s,
        "| Rule | File | Line | Fingerprint | Status |\n|---|---|---:|---|---|"
    );
    for f in m.findings.iter().take(MAX_ROWS) {
        let line = f.line.map_or_else(|| "name".to_owned(), |l| l.to_string());
        let status = if f.allowed {
            "allowed by `secrets-allow`"
        } else {
            "open"
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {line} | `{}` | {status} |",
            f.rule,
            name(&f.path),
            f.fingerprint
        );
    }
    more(s, m.findings.len(), MAX_ROWS, "findings");
    s.push('\n');
}

fn duplicates(s: &mut String, m: &crate::scan::Manifest) {
    if m.duplicates.is_empty() {
        return;
    }
    let reclaimable: u64 = m
        .duplicates
        .iter()
        .map(crate::scan::DuplicateGroup::redundant_bytes)
        .sum();
    let _ = writeln!(
        s,
        "<details><summary><b>Duplicate groups</b>: {}, {}, {} reclaimable</summary>\n",
        plural(m.duplicates.len() as u64, "group"),
        plural(m.duplicate_files() as u64, "redundant file"),
        bytes(reclaimable)
    );
    let _ = writeln!(s, "| Size | SHA-256 | Files |\n|---:|---|---|");
    for g in m.duplicates.iter().take(MAX_ROWS) {
        let mut paths: Vec<String> = g
            .files
            .iter()
            .take(5)
            .map(|&i| name(m.selection.files[i].rel()))
            .collect();
        if g.files.len() > 5 {
            paths.push(format!("…and {} more", g.files.len() - 5));
        }
        let _ = writeln!(
            s,
            "| {} | `{}…` | {} |",
            bytes(g.size),
            &hex::encode(g.sha256)[..12],
            paths.join("<br>")
        );
    }
    more(s, m.duplicates.len(), MAX_ROWS, "groups");
    let _ = writeln!(s, "\n</details>\n");
}

fn largest(s: &mut String, m: &crate::scan::Manifest) {
    if m.records.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..m.records.len()).collect();
    order.sort_by(|&a, &b| m.records[b].size.cmp(&m.records[a].size).then(a.cmp(&b)));
    let _ = writeln!(
        s,
        "<details><summary><b>Largest files</b></summary>\n\n| File | Size | SHA-256 |\n|---|---:|---|"
    );
    for &i in order.iter().take(10) {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` |",
            name(m.selection.files[i].rel()),
            bytes(m.records[i].size),
            hex::encode(m.records[i].sha256)
        );
    }
    let _ = writeln!(s, "\n</details>\n");
}
