//! User-facing text made deterministic for snapshots.
