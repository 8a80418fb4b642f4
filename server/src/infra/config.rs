//! `meshchat node`'s settings from a TOML file (`--config FILE`) and from
//! the environment (`MESHCHAT_<FLAG>`), besides its flags.
//!
//! Every flag has a key of the same name (`max-file-bytes`, or
//! `max_file_bytes`) and a variable (`MESHCHAT_MAX_FILE_BYTES`). A flag on
//! the command line wins over the environment, which wins over the file.
//! Both become flags before clap reads them, so they are checked exactly
//! as flags are; a key no flag has is an error that names the key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("the config file {path} has a key no setting has: `{key}`")]
    UnknownKey { path: PathBuf, key: String },
    #[error("the config file {path}: `{key}` must be a string, a number or true/false (or a list of them)")]
    BadValue { path: PathBuf, key: String },
}

/// A flag as clap knows it: its long name and whether it takes a value.
#[derive(Debug, Clone)]
pub struct Flag {
    pub long: String,
    pub takes_value: bool,
}

/// Where a setting came from, for error messages.
pub fn env_name(long: &str) -> String {
    format!("MESHCHAT_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// The flags for `config` (a TOML file's text) and for the environment
/// (`env` looks a variable up), in that order: place them before the
/// command line's own flags so that those win.
pub fn flags_from(
    config: Option<(&Path, &str)>,
    env: impl Fn(&str) -> Option<String>,
    known: &[Flag],
) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::new();
    if let Some((path, text)) = config {
        let table: toml::Table =
            toml::from_str(text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        for (key, value) in table {
            let long = key.replace('_', "-");
            let Some(flag) = known.iter().find(|f| f.long == long && f.long != "config") else {
                return Err(ConfigError::UnknownKey { path: path.to_owned(), key });
            };
            let bad = || ConfigError::BadValue { path: path.to_owned(), key: key.clone() };
            let text = |v: toml::Value| match v {
                toml::Value::String(s) => Some(s),
                toml::Value::Integer(i) => Some(i.to_string()),
                toml::Value::Float(x) => Some(x.to_string()),
                _ => None,
            };
            match value {
                toml::Value::Boolean(on) if !flag.takes_value => {
                    if on {
                        out.push(format!("--{long}").into());
                    }
                }
                // A list is one flag, comma-separated (`peers`).
                toml::Value::Array(items) => {
                    let items: Option<Vec<String>> = items.into_iter().map(text).collect();
                    out.extend([format!("--{long}").into(), items.ok_or_else(bad)?.join(",").into()]);
                }
                one => out.extend([format!("--{long}").into(), text(one).ok_or_else(bad)?.into()]),
            }
        }
    }
    for flag in known.iter().filter(|f| f.long != "config") {
        let Some(v) = env(&env_name(&flag.long)) else { continue };
        if flag.takes_value {
            out.extend([format!("--{}", flag.long).into(), v.into()]);
        } else if matches!(v.as_str(), "1" | "true" | "yes") {
            out.push(format!("--{}", flag.long).into());
        }
    }
    Ok(out)
}

/// Reads `--config FILE` (or `MESHCHAT_CONFIG`) out of `args`.
pub fn config_path(args: &[OsString], env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    env("MESHCHAT_CONFIG").map(PathBuf::from)
}

/// Reads the file at `path`.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<Flag> {
        [("http", true), ("max-file-bytes", true), ("guests", false), ("peers", true), ("config", true)]
            .map(|(l, v)| Flag { long: l.into(), takes_value: v })
            .to_vec()
    }

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn keys_and_variables_become_flags_file_first() {
        let text = "http = \"0.0.0.0:8080\"\nmax_file_bytes = 1000\nguests = true\npeers = [\"n2=a:1\", \"n3=b:2\"]\n";
        let env = |k: &str| (k == "MESHCHAT_HTTP").then(|| "127.0.0.1:9".to_owned());
        let flags = strings(flags_from(Some((Path::new("m.toml"), text)), env, &known()).unwrap());
        assert_eq!(
            flags,
            [
                "--guests",
                "--http",
                "0.0.0.0:8080",
                "--max-file-bytes",
                "1000",
                "--peers",
                "n2=a:1,n3=b:2",
                "--http",
                "127.0.0.1:9"
            ]
        );
    }

    #[test]
    fn a_bad_key_or_value_is_named() {
        let err = flags_from(Some((Path::new("m.toml"), "max_file_byte = 3")), |_| None, &known()).unwrap_err();
        assert_eq!(err.to_string(), "the config file m.toml has a key no setting has: `max_file_byte`");
        let err = flags_from(Some((Path::new("m.toml"), "http = { a = 1 }")), |_| None, &known()).unwrap_err();
        assert!(err.to_string().contains("`http`"), "{err}");
        let err = flags_from(Some((Path::new("m.toml"), "http = ")), |_| None, &known()).unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        let args: Vec<OsString> = ["meshchat", "node", "--config", "x.toml"].map(Into::into).to_vec();
        assert_eq!(config_path(&args, |_| None), Some(PathBuf::from("x.toml")));
    }
}
