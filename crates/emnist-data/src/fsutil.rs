//! Files we write are written atomically: to a temporary file in the same folder, then renamed.
//!
//! Every temporary name has one pattern, `.<name>.<pid>.tmp` (or `.<name>.<pid>.tmp.<ext>` where
//! a writer needs the extension), so that [`remove_stale_temps`] can find the leftovers of a
//! process that was killed while writing, and tell them from those of a process still at work.
//! Only the temporaries of names the caller writes are touched: a user's own `.notes.txt.12.tmp`
//! beside them is not ours to delete.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The temporary name used while writing `path`: `.<name>.<pid>.tmp` in the same folder.
pub fn temp_path(path: &Path) -> PathBuf {
    temp_path_with_extension(path, "")
}

/// Like [`temp_path`], keeping an extension after `.tmp` for writers that choose their format by
/// it (plotters: `png` gives `.<name>.<pid>.tmp.png`); an empty `extension` adds nothing.
pub fn temp_path_with_extension(path: &Path, extension: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = if extension.is_empty() { String::new() } else { format!(".{extension}") };
    path.with_file_name(format!(".{name}.{}.tmp{ext}", std::process::id()))
}

/// The id of the process that made the temporary file called `name`, if the name follows our
/// pattern (`.<name>.<pid>.tmp`, optionally followed by `.<ext>` of 1 to 8 letters or digits).
pub fn temp_owner(name: &str) -> Option<u32> {
    temp_target(name).map(|(_, pid)| pid)
}

/// The name of the file a temporary stands for and the id of the process that made it:
/// `.model.onnx.12.tmp` → (`model.onnx`, 12); `None` unless the name follows our pattern.
pub fn temp_target(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix('.')?;
    let (stem, after) = rest.rsplit_once(".tmp")?;
    if !after.is_empty() {
        let ext = after.strip_prefix('.')?;
        if ext.is_empty() || ext.len() > 8 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
    }
    let (base, pid) = stem.rsplit_once('.')?;
    if base.is_empty() || pid.is_empty() || pid.len() > 10 || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0).map(|p| (base, p))
}

/// Whether process `pid` is known to be gone: only where `/proc` answers (Linux); elsewhere, or
/// when it cannot tell, the process counts as alive and its files are kept.
pub fn process_is_dead(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").exists() {
        return false;
    }
    matches!(fs::symlink_metadata(format!("/proc/{pid}")), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Deletes the temporary files (and folders) in `dir` whose name follows our pattern, stands for
/// a file name `ours` accepts (the files the caller writes there: `|n| n == "model.onnx"`), and
/// whose process is dead: what a killed command left behind. Returns what it removed; errors (a
/// missing folder, a file someone else removed first) are ignored.
pub fn remove_stale_temps(dir: &Path, ours: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some((target, pid)) = name.to_str().and_then(temp_target) else { continue };
        if !ours(target) || !process_is_dead(pid) {
            continue;
        }
        let path = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// The folder a file path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let tmp = temp_path(path);
    let result = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

/// Writes `bytes` to a new file at `path` and syncs it (no rename: the caller moves it into place).
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Files written under temporary names and moved into place together. [`Staged::commit`] renames
/// them, the first one registered last (its presence says the set is complete); dropped without a
/// commit (an error on the way), it removes every temporary, and a commit that fails half-way also
/// removes the files it had already moved, so no new file is left under a final name.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary, final) in registration order.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Registers `path` and returns the temporary name to write it under.
    pub fn temp_for(&mut self, path: &Path) -> PathBuf {
        let tmp = temp_path(path);
        self.files.push((tmp.clone(), path.to_owned()));
        tmp
    }

    /// Registers `path` and writes `bytes` (synced) under its temporary name.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.temp_for(path);
        write_synced(&tmp, bytes).with_context(|| format!("cannot write `{}`", path.display()))
    }

    /// Moves every file into place; on failure, the final path that could not be written and why.
    pub fn commit(mut self) -> std::result::Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
        let mut order: Vec<usize> = (1..self.files.len()).collect();
        order.extend((!self.files.is_empty()).then_some(0));
        for (n, &i) in order.iter().enumerate() {
            let (tmp, path) = &self.files[i];
            if let Err(e) = fs::rename(tmp, path) {
                for &j in &order[..n] {
                    let _ = fs::remove_file(&self.files[j].1);
                }
                return Err((path.clone(), e));
            }
        }
        Ok(std::mem::take(&mut self.files).into_iter().map(|(_, path)| path).collect())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_carry_the_pid_and_parse_back() {
        let pid = std::process::id();
        let t = temp_path(Path::new("models/dnn/model.json"));
        assert_eq!(t, PathBuf::from(format!("models/dnn/.model.json.{pid}.tmp")));
        let png = temp_path_with_extension(Path::new("out/curves.png"), "png");
        assert_eq!(png, PathBuf::from(format!("out/.curves.png.{pid}.tmp.png")));
        for p in [t, png] {
            assert_eq!(temp_owner(p.file_name().unwrap().to_str().unwrap()), Some(pid));
        }
    }

    #[test]
    fn only_our_pattern_counts_as_a_temporary() {
        assert_eq!(temp_owner(".model.json.999999999.tmp"), Some(999_999_999));
        assert_eq!(temp_owner(".x-1234.cache.42.tmp"), Some(42));
        assert_eq!(temp_owner(".a.tmp.7.tmp"), Some(7));
        assert_eq!(temp_owner(".samples.png.12.tmp.png"), Some(12));
        for other in [
            "model.json.12.tmp",           // not hidden
            ".model.json.tmp",             // no pid
            ".model.json.12x.tmp",         // not a number
            ".12.tmp",                     // no name
            ".model.json.0.tmp",           // no process has id 0
            ".model.json.12.tmpx",         // not the suffix
            ".model.json.12.tmp.",         // empty extension
            ".model.json.12.tmp.a.b",      // two extensions
            ".model.json.99999999999.tmp", // beyond a pid
            ".lock",
            ".matlab.zip.part",
            "matlab.zip.part",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temps_of_dead_processes_go_and_live_ones_stay() {
        let dir = std::env::temp_dir().join(format!("emnist-fsutil-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let dead = dir.join(".model.json.999999999.tmp");
        let dead_dir = dir.join(".figures.999999998.tmp");
        let live = dir.join(format!(".model.json.{}.tmp", std::process::id()));
        let other = dir.join("model.json");
        // Dead owners and our pattern, but not names this caller writes: a user's files.
        let notes = dir.join(".mynotes.txt.999997.tmp");
        let other_model = dir.join(".other.onnx.999999999.tmp");
        for f in [&dead, &live, &other, &notes, &other_model] {
            fs::write(f, b"x").unwrap();
        }
        fs::create_dir_all(dead_dir.join("inner")).unwrap();
        let mut removed = remove_stale_temps(&dir, |n| ["model.json", "figures"].contains(&n));
        removed.sort();
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, vec![dead_dir.clone(), dead.clone()]);
            assert!(!dead.exists() && !dead_dir.exists());
        }
        assert!(live.exists() && other.exists());
        assert!(notes.exists() && other_model.exists(), "only the temporaries of our names go");
        assert!(remove_stale_temps(&dir.join("missing"), |_| true).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
