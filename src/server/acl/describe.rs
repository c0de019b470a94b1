//! Users back as rules: the canonical text ACL LIST prints and the
//! command rules ACL GETUSER shows (Redis's ACLDescribeUser and
//! ACLDescribeSelectorCommandRules).

use super::catalog::{catalog, category_names};
use super::selector::Selector;
use super::user::User;

/// The command rules that rebuild the selector's command bits: `+@all`
/// or `-@all`, then the best-fitting categories one at a time, then
/// single commands and first arguments for what is left.
pub fn command_rules(sel: &Selector) -> String {
    let cat = catalog();
    let additive = !sel.allows_future();
    let mut rules = String::from(if additive { "-@all " } else { "+@all " });
    let mut fake = Selector::new(false);
    fake.apply(if additive { b"-@all" } else { b"+@all" })
        .expect("valid rule");
    // What is left to explain: categories applied flip it the other way.
    let mut left = sel.clone();
    let mut applied = vec![false; category_names().count()];
    loop {
        let mut best: Option<usize> = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (j, name) in category_names().enumerate() {
            if applied[j] {
                continue;
            }
            let flag = super::catalog::category(name.as_bytes()).expect("known");
            let (mut on, mut off) = (0, 0);
            for (bit, e) in cat.entries.iter().enumerate() {
                if e.categories.has(flag) {
                    if left.commands.get(bit) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(j);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(j) = best else { break };
        let name = category_names().nth(j).expect("index");
        let flag = super::catalog::category(name.as_bytes()).expect("known");
        fake.change_category(flag, additive);
        left.change_category(flag, !additive);
        rules.push_str(if additive { "+@" } else { "-@" });
        rules.push_str(name);
        rules.push(' ');
        applied[j] = true;
    }
    for (bit, e) in cat.entries.iter().enumerate() {
        let mine = sel.commands.get(bit);
        if mine != fake.commands.get(bit) {
            rules.push(if mine { '+' } else { '-' });
            rules.push_str(e.spec.name);
            rules.push(' ');
            fake.change(bit, mine);
        }
        if !mine {
            for arg in sel.first_args.get(&bit).into_iter().flatten() {
                rules.push('+');
                rules.push_str(e.spec.name);
                rules.push('|');
                rules.push_str(&String::from_utf8_lossy(arg));
                rules.push(' ');
            }
        }
    }
    rules.pop();
    rules
}

/// Keys, channels and commands of one selector, as ACL LIST shows them.
fn selector_rules(sel: &Selector) -> Vec<u8> {
    let mut out = Vec::new();
    if sel.all_keys {
        out.extend_from_slice(b"~* ");
    } else {
        for k in &sel.keys {
            out.extend_from_slice(&k.rule());
            out.push(b' ');
        }
    }
    if sel.all_channels {
        out.extend_from_slice(b"&* ");
    } else {
        out.extend_from_slice(b"resetchannels ");
        for c in &sel.channels {
            out.push(b'&');
            out.extend_from_slice(c);
            out.push(b' ');
        }
    }
    out.extend_from_slice(command_rules(sel).as_bytes());
    out
}

/// The flags GETUSER lists and ACL LIST starts with, in Redis's order.
pub fn flags(u: &User) -> Vec<&'static str> {
    let mut f = vec![if u.enabled { "on" } else { "off" }];
    if u.nopass {
        f.push("nopass");
    }
    match u.skip_sanitize {
        Some(true) => f.push("skip-sanitize-payload"),
        Some(false) => f.push("sanitize-payload"),
        None => {}
    }
    f
}

/// `ACL LIST`'s line for the user, after `user <name> `.
pub fn user_rules(u: &User) -> Vec<u8> {
    let mut out = Vec::new();
    for f in flags(u) {
        out.extend_from_slice(f.as_bytes());
        out.push(b' ');
    }
    for p in &u.passwords {
        out.push(b'#');
        out.extend_from_slice(p.as_bytes());
        out.push(b' ');
    }
    for (i, sel) in u.selectors.iter().enumerate() {
        if i == 0 {
            out.extend_from_slice(&selector_rules(sel));
        } else {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&selector_rules(sel));
            out.push(b')');
        }
    }
    out
}

/// GETUSER's `keys` field: the key rules separated by spaces.
pub fn key_rules(sel: &Selector) -> Vec<u8> {
    if sel.all_keys {
        return b"~*".to_vec();
    }
    let rules: Vec<Vec<u8>> = sel.keys.iter().map(|k| k.rule()).collect();
    rules.join(&b' ')
}

/// GETUSER's `channels` field.
pub fn channel_rules(sel: &Selector) -> Vec<u8> {
    if sel.all_channels {
        return b"&*".to_vec();
    }
    let rules: Vec<Vec<u8>> = sel
        .channels
        .iter()
        .map(|c| [b"&", &c[..]].concat())
        .collect();
    rules.join(&b' ')
}
