//! A run's workspace: the files its steps produce, held in memory by normalised relative path.
//! Holding it in memory rather than in a directory means no step can reach outside it through a
//! `..` or a symbolic link, a dry run touches no disk, and the whole tree can be saved with the
//! task after every step so that another worker resumes with exactly the same files.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The most a workspace may hold.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

/// One file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    #[serde(default)]
    pub executable: bool,
}

impl FileEntry {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: text.into().into_bytes(),
            executable: false,
        }
    }

    /// Whether the content looks binary (a NUL byte in its first 8 KiB, or not UTF-8), the
    /// test git and the usual binary detectors use; binary files are copied, never rendered.
    pub fn is_binary(&self) -> bool {
        let head = &self.content[..self.content.len().min(8192)];
        head.contains(&0) || std::str::from_utf8(&self.content).is_err()
    }
}

/// Files by normalised path (`a/b.txt`: no leading slash, no `.` or `..`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    files: BTreeMap<String, FileEntry>,
}

/// `path` without `.` segments, duplicate slashes or a trailing slash, refused when absolute or
/// when a `..` climbs above the start. The empty string is the root.
pub fn normalise(path: &str) -> Result<String, String> {
    if path.starts_with('/') || path.starts_with('\\') || path.contains('\0') {
        return Err(format!(
            "{path:?} is not a relative path inside the workspace"
        ));
    }
    if path.len() > 1 && path.as_bytes()[1] == b':' {
        return Err(format!(
            "{path:?} is not a relative path inside the workspace"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{path:?} leaves the workspace"));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

fn join(base: &str, path: &str) -> String {
    match (base.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}/{path}"),
    }
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn files(&self) -> impl Iterator<Item = (&String, &FileEntry)> {
        self.files.iter()
    }

    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        normalise(path).ok().and_then(|p| self.files.get(&p))
    }

    /// The total size of the files.
    pub fn bytes(&self) -> usize {
        self.files.values().map(|f| f.content.len()).sum()
    }

    /// Writes `entry` at `base/path`, refusing paths that leave the workspace and a file that
    /// would sit where a directory is (or below a file).
    pub fn write(&mut self, base: &str, path: &str, entry: FileEntry) -> Result<String, String> {
        let target = normalise(&join(base, path))?;
        if target.is_empty() {
            return Err(format!("{path:?} names the workspace itself, not a file"));
        }
        let prefix = format!("{target}/");
        if self
            .files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
        {
            return Err(format!("{target:?} is a directory in the workspace"));
        }
        let mut parent = target.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if self.files.contains_key(up) {
                return Err(format!(
                    "{up:?} is a file in the workspace, not a directory"
                ));
            }
            parent = up;
        }
        let grows = entry.content.len();
        if self.bytes() + grows > MAX_BYTES {
            return Err(format!(
                "the workspace would exceed {} MiB",
                MAX_BYTES >> 20
            ));
        }
        self.files.insert(target.clone(), entry);
        Ok(target)
    }

    /// Removes the file or directory at `path`; how many files went.
    pub fn remove(&mut self, path: &str) -> Result<usize, String> {
        let target = normalise(path)?;
        if self.files.remove(&target).is_some() {
            return Ok(1);
        }
        let prefix = if target.is_empty() {
            String::new()
        } else {
            format!("{target}/")
        };
        let doomed: Vec<String> = self
            .files
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .cloned()
            .collect();
        for path in &doomed {
            self.files.remove(path);
        }
        Ok(doomed.len())
    }

    /// The files at or below `path`, keyed by their path below it.
    pub fn subtree(&self, path: &str) -> Result<BTreeMap<String, FileEntry>, String> {
        let target = normalise(path)?;
        if let Some(file) = self.files.get(&target) {
            let name = target.rsplit('/').next().unwrap_or(&target).to_owned();
            return Ok(BTreeMap::from([(name, file.clone())]));
        }
        let prefix = if target.is_empty() {
            String::new()
        } else {
            format!("{target}/")
        };
        Ok(self
            .files
            .iter()
            .filter_map(|(p, f)| p.strip_prefix(&prefix).map(|r| (r.to_owned(), f.clone())))
            .collect())
    }

    /// Moves the file or directory `from` to `to`.
    pub fn rename(&mut self, from: &str, to: &str, overwrite: bool) -> Result<(), String> {
        let source = normalise(from)?;
        let target = normalise(to)?;
        if source.is_empty() || target.is_empty() {
            return Err("the workspace itself cannot be moved".to_owned());
        }
        let moving = self.subtree(&source)?;
        if moving.is_empty() {
            return Err(format!("{from:?} does not exist in the workspace"));
        }
        let single = self.files.contains_key(&source);
        let exists = self.files.contains_key(&target) || !self.subtree(&target)?.is_empty();
        if exists && !overwrite {
            return Err(format!(
                "{to:?} already exists; set overwrite: true to replace it"
            ));
        }
        if exists {
            self.remove(&target)?;
        }
        self.remove(&source)?;
        for (relative, file) in moving {
            let path = if single { String::new() } else { relative };
            self.write(&target, &path, file)?;
        }
        Ok(())
    }

    /// The workspace as compressed bytes, to save with the task.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a workspace always serialises");
        let mut encoder = zstd::Encoder::new(Vec::new(), 3).expect("zstd level 3 is valid");
        encoder
            .write_all(&json)
            .expect("writing to memory cannot fail");
        encoder.finish().expect("writing to memory cannot fail")
    }

    /// A workspace saved by [`Workspace::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut json = Vec::new();
        zstd::Decoder::new(bytes)
            .and_then(|mut d| d.read_to_end(&mut json))
            .map_err(|e| format!("the saved workspace cannot be read: {e}"))?;
        serde_json::from_slice(&json)
            .map_err(|e| format!("the saved workspace cannot be read: {e}"))
    }
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(normalise("./a//b/../c/").unwrap(), "a/c");
        assert!(normalise("../x").is_err());
        assert!(normalise("a/../../x").is_err());
        assert!(normalise("/etc/passwd").is_err());
        assert!(normalise("C:\\x").is_err());
        let mut ws = Workspace::new();
        ws.write("", "a/b.txt", FileEntry::text("x")).unwrap();
        assert!(ws.write("", "a", FileEntry::text("y")).is_err());
        assert!(ws.write("", "a/b.txt/c", FileEntry::text("y")).is_err());
        assert!(ws.write("sub", "../../x", FileEntry::text("y")).is_err());
    }

    #[test]
    fn renames_and_round_trips() {
        let mut ws = Workspace::new();
        ws.write("", "src/a.rs", FileEntry::text("a")).unwrap();
        ws.write("", "src/b/c.rs", FileEntry::text("c")).unwrap();
        ws.write("", "x", FileEntry::text("x")).unwrap();
        ws.rename("src", "lib", false).unwrap();
        assert!(ws.get("lib/b/c.rs").is_some());
        assert!(ws.rename("x", "lib/a.rs", false).is_err());
        ws.rename("x", "lib/a.rs", true).unwrap();
        assert_eq!(ws.get("lib/a.rs").unwrap().content, b"x");
        let back = Workspace::from_bytes(&ws.to_bytes()).unwrap();
        assert_eq!(back, ws);
    }
}
