//! A user: whether it may log in, its password hashes, and its selectors
//! (the root one first). Redis's `user` and ACLSetUser.

use super::password;
use super::rules::RuleError;
use super::selector::Selector;

#[derive(Clone)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// `skip-sanitize-payload` (Some(true)) or `sanitize-payload`
    /// (Some(false)); a new user has neither flag.
    pub skip_sanitize: Option<bool>,
    /// SHA-256 hashes, hex, in the order added.
    pub passwords: Vec<String>,
    /// The root selector, then those set with `(...)`.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no password, no permissions (Redis's
    /// ACLCreateUser); channels per `acl-pubsub-default`.
    pub fn new(name: &[u8], all_channels: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            skip_sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(all_channels)],
        }
    }

    /// The `default` user as a fresh server has it.
    pub fn default_user(requirepass: Option<&[u8]>) -> User {
        let mut u = User::new(b"default", true);
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(rule.as_bytes(), true)
                .expect("default rules are valid");
        }
        u.set_requirepass(requirepass);
        u
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// `requirepass` (from the config file or CONFIG SET) sets the
    /// default user's only password, or makes it `nopass` when empty
    /// (Redis's ACLUpdateDefaultUserPassword).
    pub fn set_requirepass(&mut self, pass: Option<&[u8]>) {
        self.passwords.clear();
        self.nopass = false;
        match pass {
            Some(p) => self.passwords.push(password::hash(p)),
            None => self.nopass = true,
        }
    }

    /// Whether these credentials log in as this user.
    pub fn accepts(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = password::hash(pass);
        self.passwords.iter().any(|p| password::same(p, &hashed))
    }

    /// Applies one rule (Redis's ACLSetUser); `all_channels` is
    /// `acl-pubsub-default`, which `reset` and new selectors follow.
    pub fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.skip_sanitize = Some(true);
        } else if is("sanitize-payload") {
            self.skip_sanitize = Some(false);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = Self::hash_of(op)?;
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = Self::hash_of(op)?;
            let at = (self.passwords.iter().position(|p| *p == hash))
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(all_channels);
            for inner in super::rules::split_args(&op[1..op.len() - 1]) {
                if !inner.is_empty() {
                    selector.apply(&inner)?;
                }
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for rule in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(rule.as_bytes(), all_channels)?;
            }
            if all_channels {
                self.apply(b"allchannels", all_channels)?;
            }
            for rule in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(rule.as_bytes(), all_channels)?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The hash a `>`/`<` (clear text) or `#`/`!` (hash) rule names.
    fn hash_of(op: &[u8]) -> Result<String, RuleError> {
        if op[0] == b'>' || op[0] == b'<' {
            return Ok(password::hash(&op[1..]));
        }
        if !password::valid_hash(&op[1..]) {
            return Err(RuleError::BadHash);
        }
        Ok(String::from_utf8_lossy(&op[1..]).into_owned())
    }
}
