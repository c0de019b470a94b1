//! Configuration: redis.conf syntax, the directive table, and the values
//! CONFIG GET/SET/REWRITE see.

mod directives;
mod encoding_limits;
mod file;
pub mod keys;
pub mod proc_title;
mod rewrite;
pub mod special;

pub use directives::{
    lookup, parse_memory, Directive, Kind, DENY_LOADING, DIRECTIVES, HIDDEN, PROTECTED, UNSUPPORTED,
};
pub use file::{load, ConfigError, Rename, Source, UserLine};

use std::collections::BTreeMap;

/// Current configuration: every directive's value in Redis's canonical
/// text form (what CONFIG GET prints).
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The config file, for CONFIG REWRITE.
    pub file: Option<std::path::PathBuf>,
    /// `rename-command <name> <new-name>` lines, in order (an empty new
    /// name disables the command); applied to the command table once at
    /// start-up, never through CONFIG SET, as in Redis.
    pub rename_commands: Vec<Rename>,
    /// `user <name> [rule ...]` lines, in order: the users the server
    /// starts with (server/acl/file.rs checks and installs them), as
    /// Redis's ACLAppendUserForLoading keeps them for later.
    pub users: Vec<UserLine>,
}

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for d in DIRECTIVES.iter().chain(UNSUPPORTED) {
            values.insert(d.name, d.default.to_string());
        }
        Config {
            values,
            file: None,
            rename_commands: Vec::new(),
            users: Vec::new(),
        }
    }
}

/// Values Redis adjusts after accepting them, or refuses by their own
/// rules.
fn adjust(config: &Config, name: &str, v: String) -> Result<String, String> {
    match name {
        "proc-title-template" => proc_title::check(config, &v).map(|()| v),
        // Redis keeps hz within 1..=500 (CONFIG_MIN_HZ..CONFIG_MAX_HZ).
        "hz" => Ok(v.parse::<i64>().map_or(v, |n| n.clamp(1, 500).to_string())),
        // Redis's isValidDBfilename: the file is always in `dir`.
        "dbfilename" if v.contains('/') => {
            Err("dbfilename can't be a path, just a filename".into())
        }
        _ => Ok(v),
    }
}

/// A directive holding an integer or a memory size, read with
/// `Config::int`; the constants are in `keys.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntKey(pub &'static str);

/// A yes/no directive, read with `Config::flag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagKey(pub &'static str);

/// A directive read as text (`Config::text`): strings, enums, address
/// lists and the directives with their own syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextKey(pub &'static str);

impl Config {
    /// Canonical value of a directive (or an alias of one).
    pub fn get(&self, name: &str) -> Option<&str> {
        let (d, _) = lookup(name)?;
        self.values.get(d.name).map(|s| s.as_str())
    }

    /// Sets a directive from a config file or the command line,
    /// validating and normalising it. A directive Shardis does not
    /// support is accepted only at its default.
    pub fn set(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let Some((d, applied)) = lookup(name) else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        let current = self.values.get(d.name).cloned().unwrap_or_default();
        // As Redis's MULTI_ARG configs: one argument holding spaces
        // (`--save "900 1"`, `client-output-buffer-limit "normal 0 1mb 1"`)
        // is split on them.
        let split: Vec<String>;
        let args = if d.kind.multi_arg() && args.len() == 1 && args[0].contains(' ') {
            split = args[0]
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect();
            &split[..]
        } else {
            args
        };
        let v = adjust(self, d.name, d.kind.normalize(args, &current)?)?;
        if !applied && !self.is_default(d, &v) {
            return Err(format!(
                "directive '{}' is not supported by Shardis yet",
                d.name
            ));
        }
        self.values.insert(d.name, v);
        Ok(())
    }

    /// Whether `v` (canonical) is the directive's default.
    fn is_default(&self, d: &Directive, v: &str) -> bool {
        let words: Vec<String> = d.default.split(' ').map(String::from).collect();
        let args = if d.kind.multi_arg() {
            words
        } else {
            vec![d.default.to_string()]
        };
        let canon = d
            .kind
            .normalize(&args, d.default)
            .unwrap_or_else(|_| d.default.to_string());
        v == canon || directives::same_setting(v, d.default)
    }

    /// An integer or memory directive (`keys.rs`).
    pub fn int(&self, key: IntKey) -> i64 {
        self.get(key.0).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// A yes/no directive.
    pub fn flag(&self, key: FlagKey) -> bool {
        self.get(key.0) == Some("yes")
    }

    /// A directive read as its canonical text (strings, enums, lists).
    pub fn text(&self, key: TextKey) -> String {
        self.get(key.0).unwrap_or("").to_string()
    }

    /// The value CONFIG GET shows: `dir` is the absolute working
    /// directory, as Redis's getcwd().
    fn shown(&self, name: &'static str) -> String {
        if name == "notify-keyspace-events" {
            return special::keyspace_events_shown(self.get(name).unwrap_or(""));
        }
        if name == "dir" {
            if let Ok(cwd) = std::env::current_dir() {
                return cwd.display().to_string();
            }
        }
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// Directive names (aliases too) and values matching a glob, for
    /// CONFIG GET. Hidden directives need their exact name.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for d in DIRECTIVES.iter().chain(UNSUPPORTED) {
            for name in std::iter::once(&d.name).chain(d.aliases) {
                if HIDDEN.contains(name) {
                    continue;
                }
                if crate::glob::matches(pattern, name.as_bytes(), true) {
                    out.push((*name, self.shown(d.name)));
                }
            }
        }
        out
    }

    /// CONFIG GET: each argument is an exact name (the reply uses the
    /// caller's spelling) or, if it has `*?[`, a case-insensitive glob.
    /// Each directive appears once.
    pub fn config_get(&self, args: &[Vec<u8>]) -> Vec<(String, String)> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for a in args {
            if !a.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(a).into_owned();
                if seen.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
                    continue;
                }
                if let Some((d, _)) = lookup(&name) {
                    let entry = std::iter::once(&d.name)
                        .chain(d.aliases)
                        .find(|n| n.eq_ignore_ascii_case(&name))
                        .copied()
                        .unwrap_or(d.name);
                    seen.push(entry.to_string());
                    out.push((name, self.shown(d.name)));
                }
                continue;
            }
            for (name, v) in self.matching(a) {
                if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    continue;
                }
                seen.push(name.to_string());
                out.push((name.to_string(), v));
            }
        }
        out
    }

    /// CONFIG SET with Redis 7.0's rules: every name is checked first
    /// (unknown, immutable, protected, duplicate — the first problem
    /// wins), then the values are set in order; any failure restores
    /// the old values, so the change is all or nothing. Returns the
    /// canonical names whose value changed, or the error reply.
    /// `allow_protected`: `enable-protected-configs` allows this client
    /// (command/protected.rs).
    pub fn config_set(
        &mut self,
        pairs: &[(Vec<u8>, Vec<u8>)],
        allow_protected: bool,
    ) -> Result<Vec<&'static str>, String> {
        let mut found: Vec<(&'static Directive, bool, &'static str)> = Vec::new();
        for (name, _) in pairs {
            let text = String::from_utf8_lossy(name);
            let Some((d, applied)) = lookup(&text) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{text}'"
                ));
            };
            let entry = std::iter::once(&d.name)
                .chain(d.aliases)
                .find(|n| n.eq_ignore_ascii_case(&text))
                .copied()
                .unwrap_or(d.name);
            let problem = if !d.mutable {
                Some("can't set immutable config")
            } else if PROTECTED.contains(&d.name) && !allow_protected {
                Some("can't set protected config")
            } else if found.iter().any(|(_, _, e)| *e == entry) {
                // An alias is a config of its own, as in Redis.
                Some("duplicate parameter")
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{text}') - {p}"
                ));
            }
            found.push((d, applied, entry));
        }
        let backup = self.values.clone();
        let mut changed = Vec::new();
        for ((d, applied, entry), (_, value)) in found.iter().zip(pairs) {
            let text = String::from_utf8_lossy(value).into_owned();
            let args = if d.kind.multi_arg() {
                crate::resp::split_words(&text).unwrap_or_else(|| vec![text.clone()])
            } else {
                vec![text]
            };
            let current = self.values.get(d.name).cloned().unwrap_or_default();
            let result = d
                .kind
                .normalize(&args, &current)
                .and_then(|v| adjust(self, d.name, v))
                .and_then(|v| {
                    if !applied && !self.is_default(d, &v) {
                        return Err(format!(
                            "setting '{}' is not supported by Shardis yet",
                            d.name
                        ));
                    }
                    Ok(v)
                });
            match result {
                Ok(v) => {
                    if v != current {
                        changed.push(d.name);
                    }
                    self.values.insert(d.name, v);
                }
                Err(reason) => {
                    self.values = backup;
                    return Err(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{entry}') - {reason}"
                    ));
                }
            }
        }
        Ok(changed)
    }

    /// Puts back values taken with `values().clone()`: CONFIG SET undoes
    /// itself this way when applying a new value fails (Redis's
    /// restoreBackupConfig).
    pub fn restore_values(&mut self, values: BTreeMap<&'static str, String>) {
        self.values = values;
    }

    /// Whether CONFIG SET may change `name` at runtime.
    pub fn is_mutable(name: &str) -> Option<bool> {
        lookup(name).map(|(d, _)| d.mutable)
    }

    /// `shards`: the configured count, or the default for this process.
    pub fn shard_count(&self) -> usize {
        match self.int(keys::SHARDS) {
            n if n > 0 => n as usize,
            _ => crate::sys::cpus::default_shards(),
        }
    }

    /// All values, for CONFIG REWRITE.
    pub fn values(&self) -> &BTreeMap<&'static str, String> {
        &self.values
    }

    /// CONFIG REWRITE: rewrites the config file Shardis started with
    /// (`force_all`: every directive, defaults included).
    /// `users`: the `user` lines to write (Redis writes every user's
    /// when there is no ACL file, nothing when there is one).
    pub fn rewrite(&self, force_all: bool, users: &[String]) -> Result<(), String> {
        rewrite::rewrite(self, force_all, users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        v.iter()
            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn config_set_is_all_or_nothing() {
        let mut c = Config::default();
        let e = c
            .config_set(&pairs(&[("timeout", "5"), ("hz", "abc")]), false)
            .unwrap_err();
        assert_eq!(e, "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer");
        assert_eq!(c.get("timeout"), Some("0"));
        assert_eq!(
            c.config_set(&pairs(&[("timeout", "5"), ("HZ", "600")]), false)
                .unwrap(),
            vec!["timeout", "hz"]
        );
        assert_eq!(c.get("hz"), Some("500"));
    }

    #[test]
    fn config_set_name_errors() {
        let mut c = Config::default();
        let e = c
            .config_set(&pairs(&[("timeout", "1"), ("foo", "1")]), false)
            .unwrap_err();
        assert_eq!(
            e,
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        let e = c
            .config_set(&pairs(&[("databases", "1")]), false)
            .unwrap_err();
        assert!(
            e.ends_with("'databases') - can't set immutable config"),
            "{e}"
        );
        let e = c.config_set(&pairs(&[("dir", "/tmp")]), false).unwrap_err();
        assert!(e.ends_with("'dir') - can't set protected config"), "{e}");
        let tmp = std::env::current_dir().unwrap().display().to_string();
        c.config_set(&pairs(&[("dir", &tmp)]), true).unwrap();
        let e = c
            .config_set(&pairs(&[("hz", "1"), ("HZ", "2")]), false)
            .unwrap_err();
        assert!(e.ends_with("'HZ') - duplicate parameter"), "{e}");
    }

    #[test]
    fn config_get_exact_and_glob() {
        let c = Config::default();
        let v = c.config_get(&[b"PORT".to_vec(), b"port".to_vec()]);
        assert_eq!(v, vec![("PORT".to_string(), "6379".to_string())]);
        let v = c.config_get(&[b"slave-read-onl?".to_vec()]);
        assert_eq!(v, vec![("slave-read-only".to_string(), "yes".to_string())]);
    }
}
