//! Everything checked before a byte is written: each entry's name, kind, mode and sizes;
//! duplicates, case collisions and entries under files or links; local headers, data
//! bounds and overlaps; the declared total against free space; link targets.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use super::central::{self, CentralEntry};
use super::names::shown;
use super::write::decode;
use super::{ExtractError, ExtractOptions, Kind, Planned};
use crate::tree_path::{Node, check_entry_name, resolve_link};

/// Unix file type bits of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;
/// MS-DOS directory attribute (low byte of the external attributes).
const DOS_DIR: u32 = 0x10;
/// "Version made by" host 3: the external attributes' high 16 bits are a Unix mode.
const HOST_UNIX: u8 = 3;
/// Deflate's best ratio is about 1032:1 (258-byte matches at a bit or two each); a declared
/// size beyond that, plus slack for tiny streams, cannot come from the compressed bytes.
const DEFLATE_MAX_RATIO: u64 = 1032;
const DEFLATE_SLACK: u64 = 1024;
/// Longest link target accepted (Linux `PATH_MAX`).
const MAX_LINK_TARGET: u64 = 4096;

/// Names, kinds, modes and sizes of every entry.
pub(super) fn plan(
    zip: &Path,
    central: Vec<CentralEntry>,
    opts: ExtractOptions,
) -> Result<Vec<Planned>, ExtractError> {
    central
        .into_iter()
        .map(|entry| {
            let shown_name = || shown(&entry.name);
            let (path, slash) =
                check_entry_name(&entry.name).map_err(|problem| ExtractError::UnsafeName {
                    zip: zip.to_owned(),
                    entry: shown_name(),
                    problem,
                })?;
            let unix = (entry.host == HOST_UNIX)
                .then_some(entry.external >> 16)
                .filter(|m| *m != 0);
            let kind = match unix {
                _ if slash => Kind::Dir,
                Some(m) if m & S_IFMT == S_IFLNK => Kind::Symlink,
                Some(m) if m & S_IFMT == S_IFDIR => Kind::Dir,
                None if entry.external & DOS_DIR != 0 => Kind::Dir,
                _ => Kind::File,
            };
            // setuid, setgid and sticky are dropped: an artifact must not grant privileges;
            // so are group and other write, as `umask 022` would (a 0777 directory from a
            // zip must not let every user of the runner change what was downloaded).
            let mode = match (unix, kind) {
                (_, Kind::Symlink) => 0o777,
                (Some(m), _) => m & 0o755,
                (None, Kind::Dir) => 0o755,
                (None, _) => 0o644,
            };
            let unsupported = |what: &str| ExtractError::Unsupported {
                zip: zip.to_owned(),
                entry: shown_name(),
                what: what.to_owned(),
            };
            if entry.flags & 1 != 0 {
                return Err(unsupported("encrypted"));
            }
            if kind == Kind::Symlink && cfg!(windows) {
                return Err(ExtractError::LinkUnsupported {
                    zip: zip.to_owned(),
                    entry: shown_name(),
                });
            }
            if kind != Kind::Dir {
                check_sizes(zip, &entry, kind)?;
            }
            let key = if opts.case_insensitive {
                path.to_lowercase()
            } else {
                path.clone()
            };
            Ok(Planned {
                central: entry,
                path,
                key,
                kind,
                mode,
                data_start: 0,
            })
        })
        .collect()
}

/// Declared sizes that stored or deflated data cannot produce are a bomb's lie.
fn check_sizes(zip: &Path, entry: &CentralEntry, kind: Kind) -> Result<(), ExtractError> {
    let lie = |reason: String| ExtractError::SizeLie {
        zip: zip.to_owned(),
        entry: shown(&entry.name),
        reason,
    };
    match entry.method {
        0 if entry.compressed != entry.size => Err(lie(format!(
            "stored with {} bytes of data but declares {} bytes",
            entry.compressed, entry.size
        ))),
        8 if entry.size
            > entry
                .compressed
                .saturating_mul(DEFLATE_MAX_RATIO)
                .saturating_add(DEFLATE_SLACK) =>
        {
            Err(lie(format!(
                "declares {} bytes from {} deflated bytes, more than deflate can expand to",
                entry.size, entry.compressed
            )))
        }
        0 | 8 if kind == Kind::Symlink && entry.size > MAX_LINK_TARGET => {
            Err(lie(format!("a link target of {} bytes", entry.size)))
        }
        0 | 8 => Ok(()),
        other => Err(ExtractError::Unsupported {
            zip: zip.to_owned(),
            entry: shown(&entry.name),
            what: format!("compressed with method {other}"),
        }),
    }
}

/// The declared total (already bounded by what the compressed bytes can expand to) must fit
/// the destination's free space, and the entries (with the directories they imply) its free
/// inodes: a bomb that passes the ratio check still cannot fill the disk, millions of empty
/// entries cannot exhaust the inodes, and an honest artifact too large for the runner fails
/// before writing.
pub(super) fn check_space(
    zip: &Path,
    dest: &Path,
    planned: &[Planned],
    dirs: &HashSet<&str>,
) -> Result<(), ExtractError> {
    let declared: u64 = planned
        .iter()
        .filter(|p| p.kind == Kind::File)
        .map(|p| p.central.size)
        .fold(0, u64::saturating_add);
    let Some(free) = free_space(dest) else {
        return Ok(());
    };
    if declared > free.bytes {
        return Err(ExtractError::NoSpace {
            zip: zip.to_owned(),
            dest: dest.to_owned(),
            declared,
            available: free.bytes,
        });
    }
    if let Some(available) = free.inodes {
        let entries = planned.iter().filter(|p| p.kind != Kind::Dir).count() + dirs.len();
        if entries as u64 > available {
            return Err(ExtractError::NoInodes {
                zip: zip.to_owned(),
                dest: dest.to_owned(),
                entries: entries as u64,
                available,
            });
        }
    }
    Ok(())
}

/// What an unprivileged process may still create below a directory.
struct Free {
    bytes: u64,
    /// `None` where the file system has no fixed number of inodes (btrfs and FAT report 0).
    inodes: Option<u64>,
}

/// `None` where unknown.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<Free> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(Free {
        bytes: stat.f_bavail.saturating_mul(stat.f_frsize),
        inodes: (stat.f_files > 0).then_some(stat.f_favail),
    })
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<Free> {
    None
}

/// Duplicates, case collisions, and entries below a file or a link.
pub(super) fn check_structure(zip: &Path, planned: &[Planned]) -> Result<(), ExtractError> {
    let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(planned.len());
    for (i, p) in planned.iter().enumerate() {
        if let Some(&first) = by_key.get(p.key.as_str()) {
            let other = &planned[first];
            return Err(if other.path == p.path {
                ExtractError::Duplicate {
                    zip: zip.to_owned(),
                    entry: shown(&p.central.name),
                }
            } else {
                ExtractError::CaseCollision {
                    zip: zip.to_owned(),
                    entry: shown(&p.central.name),
                    other: shown(&other.central.name),
                }
            });
        }
        by_key.insert(&p.key, i);
    }
    for p in planned {
        for (at, _) in p.key.match_indices('/') {
            if let Some(&above) = by_key.get(&p.key[..at]) {
                let parent = &planned[above];
                if parent.kind != Kind::Dir {
                    return Err(ExtractError::UnderNonDirectory {
                        zip: zip.to_owned(),
                        entry: shown(&p.central.name),
                        parent: shown(&parent.central.name),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Reads every local header: the name must match the central directory's, the data must lie
/// before the central directory, and no two entries' data may overlap (overlapping entries
/// are how a small zip declares an enormous total).
pub(super) fn locate_data(
    zip: &Path,
    file: &File,
    planned: &mut [Planned],
    directory_at: u64,
) -> Result<(), ExtractError> {
    let mut spans = Vec::with_capacity(planned.len());
    for (i, p) in planned.iter_mut().enumerate() {
        let damaged = |reason: String| ExtractError::Damaged {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            reason,
        };
        if p.central.local_offset >= directory_at {
            return Err(damaged(
                "its local header lies outside the entries' area".into(),
            ));
        }
        let local = central::read_local(file, p.central.local_offset)
            .map_err(|e| damaged(e.to_string()))?;
        if local.name != p.central.name {
            return Err(damaged("its local header names another entry".into()));
        }
        let end = local.data_start.checked_add(p.central.compressed);
        if end.is_none_or(|end| end > directory_at) {
            return Err(damaged(
                "its data runs past the end of the entries (truncated zip?)".into(),
            ));
        }
        p.data_start = local.data_start;
        spans.push((
            p.central.local_offset,
            local.data_start + p.central.compressed,
            i,
        ));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(ExtractError::SizeLie {
                zip: zip.to_owned(),
                entry: shown(&planned[pair[1].2].central.name),
                reason: format!(
                    "its data overlaps entry `{}`",
                    shown(&planned[pair[0].2].central.name)
                ),
            });
        }
    }
    Ok(())
}

/// Every directory the entries make (directory entries and the parents of every entry),
/// by key, counted with the other entries against [`super::MAX_ENTRIES`] as it grows: a zip
/// of many deep, distinct paths names far more directories than entries, and they cost
/// memory here and inodes when written. Parents are added from the deepest up, stopping at
/// one already known (its own parents are then known too).
pub(super) fn implied_dirs<'p>(
    zip: &Path,
    planned: &'p [Planned],
) -> Result<HashSet<&'p str>, ExtractError> {
    let others = planned.iter().filter(|p| p.kind != Kind::Dir).count() as u64;
    let mut dirs: HashSet<&str> = HashSet::new();
    for p in planned {
        let key = p.key.as_str();
        if p.kind == Kind::Dir && !dirs.insert(key) {
            continue;
        }
        let mut end = key.len();
        while let Some(at) = key[..end].rfind('/') {
            if !dirs.insert(&key[..at]) {
                break;
            }
            end = at;
        }
        let count = others + dirs.len() as u64;
        if count > super::MAX_ENTRIES {
            return Err(ExtractError::TooManyEntries {
                zip: zip.to_owned(),
                count,
            });
        }
    }
    Ok(dirs)
}

/// Each link's target, read and resolved against the archive's own tree (the entries, with
/// names folded where the destination folds case): every link on the way is followed, and
/// every step must stay inside the destination. What the archive cannot show (the file
/// system's own name rules, other artifacts, what `path` already holds) is checked again
/// on the staged tree before anything is placed (`download::links`).
pub(super) fn read_link_targets(
    zip: &Path,
    file: &File,
    planned: &[Planned],
    dirs: &HashSet<&str>,
    opts: ExtractOptions,
) -> Result<HashMap<usize, String>, ExtractError> {
    let mut targets = HashMap::new();
    for (i, p) in planned
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == Kind::Symlink)
    {
        let mut bytes = Vec::new();
        decode(file, p, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .map_err(|e| e.into_error(zip, p, Path::new("")))?;
        let target = String::from_utf8(bytes).map_err(|e| ExtractError::LinkTarget {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            target: shown(e.as_bytes()),
            reason: "the target is not UTF-8".into(),
        })?;
        targets.insert(i, target);
    }
    let by_key: HashMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key.as_str(), i))
        .collect();
    let mut lookup = |prefix: &str| -> Result<Node, std::convert::Infallible> {
        let key = if opts.case_insensitive {
            prefix.to_lowercase()
        } else {
            prefix.to_owned()
        };
        Ok(match by_key.get(key.as_str()) {
            Some(&i) => match planned[i].kind {
                Kind::Dir => Node::Dir,
                Kind::File => Node::File,
                Kind::Symlink => Node::Link(targets.get(&i).cloned().unwrap_or_default()),
            },
            None if dirs.contains(key.as_str()) => Node::Dir,
            None => Node::Missing,
        })
    };
    for (i, p) in planned.iter().enumerate() {
        let Some(target) = targets.get(&i) else {
            continue;
        };
        resolve_link(&p.path, target, &mut lookup).map_err(|problem| ExtractError::LinkTarget {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            target: shown(target.as_bytes()),
            reason: problem.shown_with(|n| shown(n.as_bytes())).to_string(),
        })?;
    }
    Ok(targets)
}

// `free_space` is `statvfs`: unknown (no check) elsewhere.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn planned(name: &str, size: u64) -> Planned {
        Planned {
            central: CentralEntry {
                name: name.as_bytes().to_vec(),
                host: HOST_UNIX,
                flags: 0,
                method: 8,
                crc: 0,
                compressed: size / 1000,
                size,
                external: 0o100_644 << 16,
                local_offset: 0,
            },
            path: name.to_owned(),
            key: name.to_owned(),
            kind: Kind::File,
            mode: 0o644,
            data_start: 0,
        }
    }

    #[test]
    fn a_declared_total_beyond_the_free_space_is_refused_before_writing() {
        let dest = tempfile::tempdir().expect("tempdir");
        let free = free_space(dest.path()).expect("statvfs works here").bytes;
        let zip = Path::new("big.zip");
        // Two entries that fit alone, not together: by a wide margin, as other processes
        // (the rest of the suite) write and delete files between the two `statvfs` calls.
        let half = free / 4 * 3;
        let err = check_space(
            zip,
            dest.path(),
            &[planned("a", half), planned("b", half)],
            &HashSet::new(),
        )
        .expect_err("more than the free space");
        assert!(
            matches!(err, ExtractError::NoSpace { declared, available, .. } if declared == half * 2 && available >= free / 2),
            "{err}"
        );
        assert!(err.to_string().contains("big.zip"), "{err}");
        check_space(zip, dest.path(), &[planned("a", 1 << 20)], &HashSet::new())
            .expect("a megabyte fits");
    }
}
