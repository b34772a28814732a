//! The environment the credential sources read (variables, home directory), captured once, and
//! the AWS shared files' INI sections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The environment variables and home directory the credential sources read, captured once,
/// so that tests can give their own.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
}

impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("EnvSnapshot")
            .field("names", &names)
            .field("home", &self.home)
            .finish()
    }
}

impl EnvSnapshot {
    /// The `AWS_*` variables and `HOME` of this process.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// Given variables and home directory.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
        home: Option<&Path>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    /// A variable that is set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub fn region(&self) -> Option<&str> {
        self.get("AWS_REGION").or(self.get("AWS_DEFAULT_REGION"))
    }

    /// The `region` of the profile (`AWS_PROFILE`, else `default`) in the shared config file
    /// (`AWS_CONFIG_FILE`, else `~/.aws/config`), as the AWS CLI reads it.
    pub fn config_region(&self) -> Option<String> {
        let profile = self
            .get("AWS_PROFILE")
            .or(self.get("AWS_DEFAULT_PROFILE"))
            .unwrap_or("default");
        let path = self.aws_file("AWS_CONFIG_FILE", "config")?;
        let text = std::fs::read_to_string(path).ok()?;
        ini_section(&text, profile, true)?
            .remove("region")
            .filter(|r| !r.is_empty())
    }

    pub(crate) fn aws_file(&self, var: &str, name: &str) -> Option<PathBuf> {
        match self.get(var) {
            Some(p) => Some(PathBuf::from(p)),
            None => self.home.as_ref().map(|h| h.join(".aws").join(name)),
        }
    }
}

/// The keys of `[profile]` (credentials file) or `[profile name]`/`[default]` (config file).
pub(crate) fn ini_section(
    text: &str,
    profile: &str,
    config: bool,
) -> Option<HashMap<String, String>> {
    let mut current: Option<bool> = None;
    let mut found: Option<HashMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = if config {
                match name.strip_prefix("profile ") {
                    Some(n) => n.trim(),
                    None if name == "default" => name,
                    None => "",
                }
            } else {
                name
            };
            let hit = !name.is_empty() && name == profile;
            if hit {
                found.get_or_insert_with(HashMap::new);
            }
            current = Some(hit);
            continue;
        }
        if current == Some(true)
            && let Some((k, v)) = line.split_once('=')
            && let Some(map) = found.as_mut()
        {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found
}
