//! Users that come from files: the `user` lines of the configuration and
//! the ACL file (`aclfile`), read at start-up and by ACL LOAD, written by
//! ACL SAVE and CONFIG REWRITE (Redis 7.0's ACLAppendUserForLoading,
//! ACLLoadConfiguredUsers, ACLLoadFromFile, ACLSaveToFile).
//!
//! A file loads whole or not at all: the users are built apart and
//! replace the registry's only when every line was valid.

use super::describe::user_rules;
use super::rules::{merge_selectors, RuleError};
use super::selector::has_spaces;
use super::user::User;
use crate::config::{ConfigError, UserLine};
use std::collections::BTreeMap;

/// Users by name, as a load builds them.
pub type Users = BTreeMap<Vec<u8>, User>;

/// Redis's reply when ACL LOAD or SAVE has no file to work on.
pub const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// A rule that failed: its index among the merged rules, and why.
struct Refused {
    rule: Vec<u8>,
    error: RuleError,
}

/// Applies `rules` (a line's words after the name, selectors still
/// spread over words) to `user`: every failing rule, in order (a user
/// line goes on after a failure, as Redis's loaders do), or Err with the
/// index of an unclosed `(`.
fn apply_rules(
    user: &mut User,
    rules: &[Vec<u8>],
    all_channels: bool,
) -> Result<Vec<Refused>, usize> {
    let words: Vec<Vec<u8>> = rules.iter().filter(|w| !w.is_empty()).cloned().collect();
    let merged = merge_selectors(&words)?;
    let mut refused = Vec::new();
    for rule in merged {
        let rule: Vec<u8> = trim(&rule, b"\t\r\n").to_vec();
        if let Err(error) = user.apply(&rule, all_channels) {
            refused.push(Refused { rule, error });
        }
    }
    Ok(refused)
}

fn trim<'a>(s: &'a [u8], chars: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|c| !chars.contains(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !chars.contains(c))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// The configuration's `user` lines before the server starts (Redis
/// checks each on a user of its own while reading the file, and stops
/// at the first bad one): the error names the file, line and rule.
/// Needs the command table (rules name commands).
pub fn check_config_users(lines: &[UserLine], all_channels: bool) -> Result<(), ConfigError> {
    for line in lines {
        let words: Vec<Vec<u8>> = line.args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let mut fake = User::new(&words[0], all_channels);
        let problem = match apply_rules(&mut fake, &words[1..], all_channels) {
            Err(at) => Some(format!(
                "Error in user declaration '{}': Unmatched parenthesis in acl selector starting at '{}'.",
                line.args[at + 1],
                line.args[at + 1]
            )),
            // An unknown command is reported when the users load (Redis:
            // a module loaded later may add it).
            Ok(refused) => refused.iter().find(|r| r.error != RuleError::UnknownName).map(|r| {
                format!(
                    "Error in user declaration '{}': {}",
                    String::from_utf8_lossy(&r.rule),
                    r.error.text()
                )
            }),
        };
        if let Some(reason) = problem {
            let mut directive = String::from("user");
            if let crate::config::Source::CommandLine = line.source {
                for a in &line.args {
                    directive.push(' ');
                    directive.push_str(&crate::resp::repr_string(a.as_bytes()));
                }
            }
            return Err(ConfigError {
                source: line.source.clone(),
                directive,
                reason,
            });
        }
    }
    Ok(())
}

/// The users the configuration declares, on top of `current` (the
/// default user made from `requirepass`): a `user default` line starts
/// that user over (Redis's ACLLoadConfiguredUsers). Lines were checked by
/// [`check_config_users`].
pub fn config_users(
    lines: &[UserLine],
    mut current: Users,
    all_channels: bool,
) -> Result<Users, String> {
    for line in lines {
        let name = line.args[0].as_bytes();
        if has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let mut user = match current.remove(name) {
            Some(mut u) => {
                u.apply(b"reset", all_channels)
                    .map_err(|e| e.text().to_string())?;
                u
            }
            None => User::new(name, all_channels),
        };
        let words: Vec<Vec<u8>> = line.args[1..]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        let refused = apply_rules(&mut user, &words, all_channels)
            .map_err(|_| "Unmatched parenthesis".to_string())?;
        if let Some(r) = refused.first() {
            return Err(format!(
                "Error loading ACL rule '{}' for the user named '{}': {}",
                String::from_utf8_lossy(&r.rule),
                line.args[0],
                r.error.text()
            ));
        }
        if !user.enabled {
            crate::notice!(
                "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.",
                line.args[0]
            );
        }
        current.insert(name.to_vec(), user);
    }
    Ok(current)
}

/// Reads the ACL file `path`: its users, or the one-line description of
/// every problem found (Redis's ACLLoadFromFile: each line `user <name>
/// rules...`, blank lines allowed, comments not).
pub fn load_file(path: &str, all_channels: bool) -> Result<Users, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::sys::errno::strerror(&e)
        )
    })?;
    let mut users = Users::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let n = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let words: Vec<Vec<u8>> = line.split(|&c| c == b' ').map(<[u8]>::to_vec).collect();
        if words[0] != b"user" || words.len() < 2 {
            errors +=
                &format!("{path}:{n} should start with user keyword followed by the username. ");
            continue;
        }
        let name = &words[1];
        if has_spaces(name) {
            errors += &format!(
                "'{path}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        if users.contains_key(name) {
            errors += &format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        let mut user = User::new(name, all_channels);
        match apply_rules(&mut user, &words[2..], all_channels) {
            Err(_) => {
                errors += &format!("{path}:{n}: Unmatched parenthesis in selector definition.")
            }
            Ok(refused) => {
                let mut syntax_reported = false;
                for r in refused {
                    if r.error == RuleError::UnknownName {
                        errors += &format!(
                            "{path}:{n}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(&r.rule),
                            r.error.text()
                        );
                    } else if !syntax_reported {
                        errors += &format!("{path}:{n}: {}. ", r.error.text());
                        syntax_reported = true;
                    }
                }
            }
        }
        users.insert(name.clone(), user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        Err(errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    }
}

/// Writes every user to `path` as `user <name> <rules>` lines, through a
/// temporary file renamed over it (Redis's ACLSaveToFile); a failure is
/// logged as Redis logs it (false).
pub fn save_file(path: &str, users: &[std::sync::Arc<User>]) -> bool {
    let mut text = Vec::new();
    for u in users {
        text.extend_from_slice(&user_line(u));
        text.push(b'\n');
    }
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::sys::clock::unix_ms()
    );
    let step = |what: &str, r: std::io::Result<()>| {
        r.map_err(|e| {
            crate::warning!(
                "{what} ACL file for ACL SAVE: {}",
                crate::sys::errno::strerror(&e)
            );
            let _ = std::fs::remove_file(&tmp);
        })
    };
    step("Opening temp", std::fs::write(&tmp, &text)).is_ok()
        && step("Renaming", std::fs::rename(&tmp, path)).is_ok()
}

/// ACL LIST's, ACL SAVE's and CONFIG REWRITE's line for a user:
/// `user <name> <rules>`.
pub fn user_line(u: &User) -> Vec<u8> {
    [&b"user "[..], &u.name, b" ", &user_rules(u)].concat()
}

/// At start-up: the configuration's users, or the ACL file's; both at
/// once is refused, as Redis refuses it (ACLLoadUsersAtStartup).
pub fn load_at_startup(shared: &crate::server::shared::Shared) -> Result<(), String> {
    use crate::config::keys::{ACLFILE, ACL_PUBSUB_DEFAULT};
    let (lines, path, all_channels) = shared.read_config(|c| {
        (
            c.users.clone(),
            c.text(ACLFILE),
            c.text(ACL_PUBSUB_DEFAULT) == "allchannels",
        )
    });
    if !path.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    if !lines.is_empty() {
        let users = config_users(&lines, shared.acl.owned(), all_channels).map_err(|e| {
            crate::warning!("{e}");
            "Critical error while loading ACLs. Exiting.".to_string()
        })?;
        shared.acl.replace(users);
    }
    if !path.is_empty() {
        let users = load_file(&path, all_channels)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        shared.acl.replace(users);
    }
    Ok(())
}

/// CONFIG REWRITE's `user` lines: every user's, or none when the users
/// live in an ACL file (Redis's rewriteConfigUserOption).
pub fn config_lines(shared: &crate::server::shared::Shared) -> Vec<String> {
    if !shared.read_config(|c| c.text(crate::config::keys::ACLFILE).is_empty()) {
        return Vec::new();
    }
    shared
        .acl
        .all()
        .iter()
        .map(|u| String::from_utf8_lossy(&user_line(u)).into_owned())
        .collect()
}
