//! Integration tests: one binary, one module per topic. What the topics share is in
//! `support` (the runner context, the tree walker, the servers, snapshot redaction); no
//! topic imports from another. A test's name says what stevedore promises; where the
//! promise is text a user reads (the console, the job summary, annotations, `--help`, the
//! refusals), an inline snapshot shows that text.
//!
//! - `glob`: the selector against the official `@actions/glob` on the same trees.
//! - `action`: the binary run as the action runs it (`INPUT_*`, `$GITHUB_OUTPUT`, summary).
//! - `cli`: the command line as people type it: switches, positional paths, completions,
//!   `stevedore verify`.
//! - `inputs`: every bad input gives exit 2, names the input, and writes nothing.
//! - `install`: `dist/install.sh` as the install step runs it (Windows paths, the private
//!   verified copy, the download base check), and `action.yml`'s artifact-token hand-over.
//! - `secrets`: the credential corpus and its verdicts; values never leak.
//! - `directory`: the directory destination, byte for byte, and its failure modes.
//! - `artifact`: the artifact destination against the results-service emulator and a real
//!   Azurite (`emulator`), checked both ways with the official `@actions/artifact` client.
//! - `hostile_zip`: `download::extract` refuses one hand-built hostile zip per case (names,
//!   duplicates, links, bombs, CRC, truncation) writing nothing outside the destination, and
//!   restores honest zips (its own, Info-ZIP's) with bytes, modes and links.
//! - `hostile_download`: the second review's artifacts through the whole download: link
//!   chains across merged artifacts, two steps and what `path` holds, a case-insensitive
//!   file system (NTFS through `lowntfs-3g`), `.git`, placement as a user who is not root,
//!   a `path` on another file system, inodes, modes.
//! - `symlinks`: `symlinks: preserve` ships links as links (directory, artifact zip read by
//!   `zipinfo` and `download::extract`); escaping links and link-less destinations are exit 2.
//! - `pack`: the zip writer against `unzip -t` and Python's `zipfile`.
//! - `release`: the release destination against the GitHub REST emulator (`github`).
//! - `rest_artifacts`: the GitHub emulator's workflow-run artifact list and zip redirect,
//!   over the results emulator, proved with the official client's `findBy` (REST) path.
//! - `matrix`: matrix jobs sharing one release (`expect-assets`), published once, complete;
//!   a job's assets count whole (staged, renamed together), killed jobs' leftovers age out.
//! - `rolling`: `rolling: true` against the GitHub emulator's git references: the tag and
//!   the release follow each new commit, failures leave the previous release as it was.
//! - `attest`: the `subject-checksums` output read by actions/attest's own parsing rules,
//!   for directory, release and artifact destinations, hostile names included.
//! - `s3`: the S3 destination against s3s-fs (`s3server`), a real S3 server in-process.
//! - `tcp_faults`: every network destination through a fault-injecting TCP proxy
//!   (`faultproxy`: latency, bandwidth cap, resets and stalls mid-body); one `Route` per
//!   destination, the shared promises instantiated per route (`tcp_faults::<route>::…`).
//! - `act`: the composite action end to end under act, installing the musl release binary.
//! - `arm64`: the aarch64 release binary installed by `dist/install.sh` and run under
//!   `qemu-aarch64-static`: it ships a hostile tree exactly as the `x86_64` build does.
//! - `crash`: every destination killed (SIGKILL) mid-upload, then re-run with the same inputs.
//! - `download`: `stevedore download` of artifacts the official client and stevedore
//!   uploaded: byte-identical trees and modes, layouts, `merge-multiple` conflicts, raw files.
//! - `download_faults`: truncated bodies, dropped connections, expired signed URLs and
//!   digest mismatches: each ends byte-exact, or exit 4 with `path` untouched.
//! - `verify`: `stevedore verify` over trees stevedore wrote (preserved links, custom
//!   checksums names, modes lost in transit, `--ignore-missing`, several lists) and over
//!   names and documents that must not be overlooked.
//! - `runner_log`: the parser of workflow commands the topics check logs with
//!   (`support::commands`), against both of the runner's syntaxes and its fences.
//! - `proxy`: every destination's requests through a real proxy (`tinyproxy`) unless
//!   `NO_PROXY` names the host, and TLS servers signed by a test CA (`testca`) trusted only
//!   through `SSL_CERT_FILE`, `SSL_CERT_DIR` or `NODE_EXTRA_CA_CERTS`.
//! - `windows`: the `x86_64-pc-windows-gnu` release `.exe` run under wine 10 (a Debian
//!   trixie chroot, `scripts/wine-chroot`) with a Windows runner's `D:\...` paths, and the
//!   same bodies run natively: selection, documents, directory, S3, artifact round trips,
//!   `download`'s Windows name rules, `verify`, exit codes (`support::wine`).
//! - `debug_log`: a debug re-run (`RUNNER_DEBUG=1`) logs stage timings and request attempts.

// The suite runs on a Linux (or macOS) host and drives the binary as a runner does (bash,
// file modes, signals, act); the Windows build is driven from here too, under wine
// (`windows`). Compiled for Windows it is nothing: there scripts/test checks the library's
// clippy and links the binary.
#![cfg(unix)]
// Helpers are shared between the modules of one test binary; test data generators
// truncate on purpose.
#![allow(unreachable_pub, clippy::cast_possible_truncation)]

mod act;
mod act_artifacts;
mod action;
mod arm64;
mod artifact;
mod attest;
mod cli;
mod crash;
mod debug_log;
mod directory;
mod docs;
mod download;
mod download_faults;
mod glob;
mod hostile_download;
mod hostile_zip;
mod inputs;
mod install;
mod matrix;
mod one_read;
mod pack;
mod proxy;
mod release;
mod rest_artifacts;
mod rolling;
mod runner_log;
mod s3;
mod s3_providers;
mod secrets;
mod support;
mod symlinks;
mod tcp_faults;
mod v3_review;
mod verify;
mod windows;
