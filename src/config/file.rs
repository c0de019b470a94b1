//! Reading redis.conf: one directive per line, arguments split with
//! Redis's quoting rules, `#` comments, `include` of other files, and
//! `--directive value` pairs from the command line applied last.

use super::keys;
use super::Config;
use std::path::{Path, PathBuf};

/// Where a directive came from, for error messages.
#[derive(Clone, Debug)]
pub enum Source {
    File { path: PathBuf, line: usize },
    CommandLine,
}

/// A config error: one line naming file, line, directive and reason.
#[derive(Debug)]
pub struct ConfigError {
    pub source: Source,
    /// The directive's name; from the command line, the whole line as
    /// Redis shows it (`port "6379" "6380"`).
    pub directive: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::File { path, line } => write!(
                f,
                "{}:{}: '{}': {}",
                path.display(),
                line,
                self.directive,
                self.reason
            ),
            Source::CommandLine => {
                write!(f, "command line: '{}': {}", self.directive, self.reason)
            }
        }
    }
}

/// One `user` line's words after the directive, and where it was read.
#[derive(Clone, Debug)]
pub struct UserLine {
    pub args: Vec<String>,
    pub source: Source,
}

/// One `rename-command` line, and where it was read.
#[derive(Clone, Debug)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub source: Source,
}

impl Rename {
    /// The config error for this line when the command table refuses it.
    pub fn error(&self, reason: String) -> ConfigError {
        ConfigError {
            directive: shown(
                &self.source,
                "rename-command",
                &[self.from.clone(), self.to.clone()],
            ),
            source: self.source.clone(),
            reason,
        }
    }
}

/// Builds the configuration from an optional file and command-line
/// directives (`[("port", ["7000"]), …]`).
pub fn load(file: Option<&Path>, cli: &[(String, Vec<String>)]) -> Result<Config, ConfigError> {
    let mut cfg = Config::default();
    let mut loading = Loading::default();
    if let Some(path) = file {
        cfg.file = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        read_file(&mut cfg, &mut loading, path, 0)?;
    }
    for (name, args) in cli {
        loading.apply(&mut cfg, name, args, Source::CommandLine)?;
    }
    Ok(cfg)
}

/// What one load (file, includes and command line together) remembers.
#[derive(Default)]
struct Loading {
    /// A `save` line was read: later ones add rules instead of replacing
    /// them, as Redis's loader does (the first one drops the defaults).
    save_seen: bool,
}

impl Loading {
    fn apply(
        &mut self,
        cfg: &mut Config,
        name: &str,
        args: &[String],
        source: Source,
    ) -> Result<(), ConfigError> {
        let given = args;
        if name.eq_ignore_ascii_case("rename-command") {
            let [from, to] = args else {
                return Err(ConfigError {
                    directive: shown(&source, name, given),
                    source,
                    reason: "wrong number of arguments".into(),
                });
            };
            cfg.rename_commands.push(Rename {
                from: from.clone(),
                to: to.clone(),
                source,
            });
            return Ok(());
        }
        if name.eq_ignore_ascii_case("user") && !args.is_empty() {
            // Duplicates are refused here, as Redis's loader does (the
            // rules are checked with the users, server/acl/file.rs).
            if cfg.users.iter().any(|u| u.args[0] == args[0]) {
                return Err(ConfigError {
                    directive: shown(&source, name, given),
                    source,
                    reason: format!(
                        "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
                        args[0]
                    ),
                });
            }
            cfg.users.push(UserLine {
                args: args.to_vec(),
                source,
            });
            return Ok(());
        }
        let joined: Vec<String>;
        let args = if name.eq_ignore_ascii_case("save") {
            let first = !std::mem::replace(&mut self.save_seen, true);
            let reset = args.len() == 1 && args[0].is_empty();
            let current = cfg.text(keys::SAVE);
            if first || reset || current.is_empty() {
                args
            } else {
                joined = vec![format!("{current} {}", args.join(" "))];
                &joined[..]
            }
        } else {
            args
        };
        cfg.set(name, args).map_err(|reason| ConfigError {
            directive: shown(&source, name, given),
            source,
            reason,
        })
    }
}

/// The directive as an error names it: from a file its name (the file
/// and line say the rest); from the command line the whole line as
/// redis-server prints it, each value quoted (`sdscatrepr`).
fn shown(source: &Source, name: &str, args: &[String]) -> String {
    if let Source::File { .. } = source {
        return name.to_string();
    }
    let mut line = name.to_string();
    for a in args {
        line.push(' ');
        line.push_str(&crate::resp::repr_string(a.as_bytes()));
    }
    line
}

fn read_file(
    cfg: &mut Config,
    loading: &mut Loading,
    path: &Path,
    depth: usize,
) -> Result<(), ConfigError> {
    let text = std::fs::read(path).map_err(|e| ConfigError {
        source: Source::File {
            path: path.to_path_buf(),
            line: 0,
        },
        directive: String::new(),
        reason: format!("can't open config file: {e}"),
    })?;
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let source = Source::File {
            path: path.to_path_buf(),
            line: i + 1,
        };
        let line = trim(raw);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut scratch = Vec::new();
        let mut ranges = Vec::new();
        if !crate::resp::split_args(line, &mut scratch, &mut ranges) {
            return Err(ConfigError {
                source,
                directive: String::from_utf8_lossy(line).into_owned(),
                reason: "Unbalanced quotes in configuration line".into(),
            });
        }
        let words: Vec<String> = ranges
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&scratch[s..e]).into_owned())
            .collect();
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        if name.eq_ignore_ascii_case("include") {
            if args.len() != 1 || depth > 16 {
                return Err(ConfigError {
                    source,
                    directive: name.clone(),
                    reason: "Bad directive or wrong number of arguments".into(),
                });
            }
            let inc = PathBuf::from(&args[0]);
            if let Err(e) = std::fs::metadata(&inc) {
                return Err(ConfigError {
                    source,
                    directive: name.clone(),
                    reason: format!("can't open config file '{}': {e}", inc.display()),
                });
            }
            read_file(cfg, loading, &inc, depth + 1)?;
            continue;
        }
        loading.apply(cfg, name, args, source)?;
    }
    Ok(())
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_file_with_include_and_quotes() {
        let dir = std::env::temp_dir().join(format!("shardis-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("inc.conf");
        std::fs::write(&inc, "hz 20\n").unwrap();
        let main = dir.join("redis.conf");
        std::fs::write(
            &main,
            format!(
                "# comment\nport 7001\nrequirepass \"a b\"\ninclude {}\n",
                inc.display()
            ),
        )
        .unwrap();
        let cfg = load(Some(&main), &[("timeout".into(), vec!["5".into()])]).unwrap();
        assert_eq!(cfg.get("port"), Some("7001"));
        assert_eq!(cfg.get("requirepass"), Some("a b"));
        assert_eq!(cfg.get("hz"), Some("20"));
        assert_eq!(cfg.get("timeout"), Some("5"));
    }

    #[test]
    fn errors_name_file_line_and_directive() {
        let dir = std::env::temp_dir().join(format!("shardis-conf-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("bad.conf");
        std::fs::write(&main, "port 7001\nport 99999\n").unwrap();
        let e = load(Some(&main), &[]).unwrap_err().to_string();
        assert!(
            e.ends_with("bad.conf:2: 'port': argument must be between 0 and 65535 inclusive"),
            "{e}"
        );
        std::fs::write(&main, "activedefrag yes\n").unwrap();
        let e = load(Some(&main), &[]).unwrap_err().to_string();
        assert!(
            e.contains(
                ":1: 'activedefrag': directive 'activedefrag' is not supported by Shardis yet"
            ),
            "{e}"
        );
        std::fs::write(&main, "frobnicate 1\n").unwrap();
        let e = load(Some(&main), &[]).unwrap_err().to_string();
        assert!(
            e.contains("'frobnicate': Bad directive or wrong number of arguments"),
            "{e}"
        );
    }
}
