//! Which arguments the slow log and MONITOR show as "(redacted)": the
//! ones Redis 7.0's commands pass to redactClientCommandArgument. Each
//! command's spec names its function (`CommandSpec::redact`).

use super::util::is;

/// AUTH [username] password: every argument.
pub fn auth(_: &[&[u8]], i: usize) -> bool {
    i >= 1
}

/// HELLO [protover [AUTH username password] [SETNAME name]]: the two
/// arguments after AUTH.
pub fn hello(argv: &[&[u8]], i: usize) -> bool {
    let mut j = 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "auth") && more >= 2 {
            if i == j + 1 || i == j + 2 {
                return true;
            }
            j += 3;
        } else if is(argv[j], "setname") && more >= 1 {
            j += 2;
        } else {
            j += 1;
        }
    }
    false
}

/// MIGRATE ... [AUTH password | AUTH2 username password] [KEYS ...]:
/// the credentials.
pub fn migrate(argv: &[&[u8]], i: usize) -> bool {
    let mut j = 6;
    while j < argv.len() {
        if is(argv[j], "auth") {
            if i == j + 1 {
                return true;
            }
            j += 2;
        } else if is(argv[j], "auth2") {
            if i == j + 1 || i == j + 2 {
                return true;
            }
            j += 3;
        } else if is(argv[j], "keys") {
            return false;
        } else {
            j += 1;
        }
    }
    false
}

/// CONFIG SET name value ...: the values of sensitive directives.
pub fn config_set(argv: &[&[u8]], i: usize) -> bool {
    i >= 3
        && (i - 3).is_multiple_of(2)
        && ["requirepass", "masterauth", "masteruser"]
            .iter()
            .any(|name| is(argv[i - 1], name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let h: &[&[u8]] = &[b"hello", b"2", b"AUTH", b"u", b"p", b"SETNAME", b"n"];
        let hidden: Vec<usize> = (0..h.len()).filter(|&i| hello(h, i)).collect();
        assert_eq!(hidden, vec![3, 4]);
        let m: &[&[u8]] = &[
            b"migrate", b"h", b"1", b"k", b"0", b"5", b"AUTH2", b"u", b"p",
        ];
        let hidden: Vec<usize> = (0..m.len()).filter(|&i| migrate(m, i)).collect();
        assert_eq!(hidden, vec![7, 8]);
        let c: &[&[u8]] = &[b"config", b"set", b"masterauth", b"x", b"hz", b"10"];
        let hidden: Vec<usize> = (0..c.len()).filter(|&i| config_set(c, i)).collect();
        assert_eq!(hidden, vec![3]);
    }
}
