//! ACL SETUSER's rule list: selector arguments `(a b)` spread over
//! several arguments are joined, every rule is applied to a copy of the
//! user, and the copy replaces the user only if all rules were valid
//! (Redis's ACLStringSetUser).

use super::user::User;

/// Why a rule was refused; the texts are Redis's ACLSetUserStringError.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownName,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// The words of a selector's inside, with sdssplitargs's quoting;
/// unbalanced quotes give none (Redis then makes an empty selector).
pub fn split_args(text: &[u8]) -> Vec<Vec<u8>> {
    let (mut scratch, mut ranges) = (Vec::new(), Vec::new());
    if !crate::resp::split_args(text, &mut scratch, &mut ranges) {
        return Vec::new();
    }
    ranges
        .iter()
        .map(|&(s, e)| scratch[s..e].to_vec())
        .collect()
}

/// Joins `(` ... `)` spread over several arguments with spaces (Redis's
/// ACLMergeSelectorArguments); Err is the index of an unclosed `(`.
pub(super) fn merge_selectors(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, arg) in args.iter().enumerate() {
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(arg);
            if arg.last() == Some(&b')') {
                merged.push(open.take().expect("open").1);
            }
            continue;
        }
        if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
            open = Some((i, arg.clone()));
            continue;
        }
        merged.push(arg.clone());
    }
    match open {
        Some((at, _)) => Err(at),
        None => Ok(merged),
    }
}

/// A copy of `user` with `rules` applied, or ACL SETUSER's error text
/// (without the `ERR ` prefix).
pub fn staged(user: &User, rules: &[Vec<u8>], all_channels: bool) -> Result<User, String> {
    let merged = merge_selectors(rules).map_err(|at| {
        format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&rules[at])
        )
    })?;
    let mut copy = user.clone();
    for rule in &merged {
        copy.apply(rule, all_channels).map_err(|e| {
            format!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(rule),
                e.text()
            )
        })?;
    }
    Ok(copy)
}
