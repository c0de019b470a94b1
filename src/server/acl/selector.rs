//! A selector: the commands, keys and channels a set of rules allows
//! (Redis's aclSelector). A user's root selector holds the rules given
//! outside parentheses.

use super::catalog::{catalog, category, BITS, FUTURE_BIT};
use super::rules::RuleError;
use std::collections::BTreeMap;

/// The commands allowed, one bit per catalog entry.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandBits(Box<[u64; BITS / 64]>);

impl CommandBits {
    fn none() -> CommandBits {
        CommandBits(Box::new([0; BITS / 64]))
    }
    fn all() -> CommandBits {
        CommandBits(Box::new([u64::MAX; BITS / 64]))
    }
    pub fn get(&self, bit: usize) -> bool {
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }
    fn set(&mut self, bit: usize, on: bool) {
        if on {
            self.0[bit / 64] |= 1 << (bit % 64);
        } else {
            self.0[bit / 64] &= !(1 << (bit % 64));
        }
    }
}

/// A key pattern and the access it grants (`~` both, `%R~`, `%W~`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

impl KeyPattern {
    /// The rule that sets it, as ACL LIST and GETUSER print it.
    pub fn rule(&self) -> Vec<u8> {
        let prefix: &[u8] = match (self.read, self.write) {
            (true, true) => b"~",
            (true, false) => b"%R~",
            _ => b"%W~",
        };
        [prefix, &self.pattern].concat()
    }
}

#[derive(Clone)]
pub struct Selector {
    pub commands: CommandBits,
    /// Set by `+@all` and cleared by any removal: every check passes.
    pub all_commands: bool,
    pub all_keys: bool,
    pub all_channels: bool,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
    /// `+cmd|arg` for a command without subcommands: the first
    /// arguments it may run with while the command itself is denied.
    pub first_args: BTreeMap<usize, Vec<Vec<u8>>>,
}

/// Redis's ACLStringHasSpaces: patterns may not hold blanks or NULs.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c.is_ascii_whitespace() || c == 0x0b)
}

impl Selector {
    /// An empty selector; channels follow `acl-pubsub-default`.
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            commands: CommandBits::none(),
            all_commands: false,
            all_keys: false,
            all_channels,
            keys: Vec::new(),
            channels: Vec::new(),
            first_args: BTreeMap::new(),
        }
    }

    /// Whether the rules started from `+@all` (then commands added to the
    /// server later would be allowed too).
    pub fn allows_future(&self) -> bool {
        self.commands.get(FUTURE_BIT)
    }

    /// Sets a command's bit, and its subcommands' for a container
    /// (Redis's ACLChangeSelectorPerm).
    pub fn change(&mut self, bit: usize, on: bool) {
        self.set_bit(bit, on);
        self.first_args.remove(&bit);
        for &child in &catalog().entries[bit].children {
            self.set_bit(child, on);
        }
    }

    fn set_bit(&mut self, bit: usize, on: bool) {
        self.commands.set(bit, on);
        if !on {
            self.all_commands = false;
        }
    }

    /// `+@cat` / `-@cat`: every command in the category.
    pub fn change_category(&mut self, cat: super::super::spec::Acl, on: bool) {
        let cat_bits: Vec<usize> = (catalog().entries.iter().enumerate())
            .filter(|(_, e)| e.categories.has(cat))
            .map(|(bit, _)| bit)
            .collect();
        for bit in cat_bits {
            self.change(bit, on);
        }
    }

    /// Applies one selector rule (Redis's ACLSetSelector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.commands = CommandBits::all();
            self.all_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.commands = CommandBits::none();
            self.all_commands = false;
            self.first_args.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelsAfterAll);
            }
            if has_spaces(&op[1..]) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == &op[1..]) {
                self.channels.push(op[1..].to_vec());
            }
            self.all_channels = false;
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let cat = category(&op[2..]).ok_or(RuleError::UnknownName)?;
            self.change_category(cat, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let bit = catalog().bit(&op[1..]).ok_or(RuleError::UnknownName)?;
            self.change(bit, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (mut read, mut write) = (true, true);
        let mut at = 1;
        if op[0] == b'%' {
            (read, write) = (false, false);
            while at < op.len() {
                match op[at].to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => {
                        at += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                at += 1;
            }
        }
        let pattern = &op[at..];
        // `%~pattern` and `%` grant nothing: refused (Redis 7.0.15 does).
        if (!read && !write) || has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => {
                k.read |= read;
                k.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|first-arg`.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let cat = catalog();
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let bit = cat.bit(name).ok_or(RuleError::UnknownName)?;
            self.change(bit, true);
            return Ok(());
        };
        let (base, sub) = (&name[..bar], &name[bar + 1..]);
        let bit = cat.bit(base).ok_or(RuleError::UnknownName)?;
        if cat.entries[bit].parent.is_some() {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if cat.entries[bit].children.is_empty() {
            let args = self.first_args.entry(bit).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                args.push(sub.to_vec());
            }
        } else {
            let bit = cat.bit(name).ok_or(RuleError::UnknownName)?;
            self.change(bit, true);
        }
        Ok(())
    }
}
