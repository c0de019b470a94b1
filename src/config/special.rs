//! Directives with their own syntax, checked and put in canonical form
//! as Redis 7.0 does (the canonical form is what CONFIG GET prints).

use super::directives::{parse_int, parse_memory};

/// Checks the arguments given the current value; returns the canonical
/// text or Redis's reason for refusing them.
pub type Check = fn(&[String], &str) -> Result<String, String>;

/// `save <seconds> <changes> [<seconds> <changes> ...]` or `save ""`.
pub fn save(args: &[String], _: &str) -> Result<String, String> {
    if args.is_empty() || (args.len() == 1 && args[0].is_empty()) {
        return Ok(String::new());
    }
    // `--save "3600 1"` on the command line arrives as one argument, which
    // Redis splits like a config-file line.
    let args: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if args.is_empty() || !args.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::new();
    for a in args {
        match parse_int(a) {
            Some(n) if n >= 0 => out.push(n.to_string()),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    Ok(out.join(" "))
}

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ...`,
/// merged over the current limits of the other classes.
pub fn client_output_buffer_limit(args: &[String], current: &str) -> Result<String, String> {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let cur: Vec<&str> = current.split(' ').collect();
    let mut classes: Vec<[String; 3]> = (0..3)
        .map(|i| {
            let f = |j: usize| cur.get(i * 4 + j).copied().unwrap_or("0").to_string();
            [f(1), f(2), f(3)]
        })
        .collect();
    for chunk in args.chunks(4) {
        let class = match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(&chunk[1]);
        let soft = parse_memory(&chunk[2]);
        let secs = parse_int(&chunk[3]).filter(|&n| n >= 0);
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) => {
                classes[class] = [h.to_string(), s.to_string(), t.to_string()]
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    let names = ["normal", "slave", "pubsub"];
    let parts: Vec<String> = names
        .iter()
        .zip(&classes)
        .map(|(n, c)| format!("{n} {} {} {}", c[0], c[1], c[2]))
        .collect();
    Ok(parts.join(" "))
}

/// `notify-keyspace-events` classes, printed in Redis's canonical order.
pub fn notify_keyspace_events(args: &[String], _: &str) -> Result<String, String> {
    const ALL: &str = "g$lshzxetd";
    // Words are not joined: a space is an invalid class, as in Redis.
    let text = args.join(" ");
    let mut set = std::collections::BTreeSet::new();
    for c in text.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
        // Kept in the stored value (it is in effect) but not shown: see
        // `keyspace_events_shown`.
        if set.contains(&'n') {
            out.push('n');
        }
    } else {
        out.extend("g$lshzxetdn".chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Ok(out)
}

/// The stored `notify-keyspace-events` as CONFIG GET / REWRITE print it:
/// as Redis, with A the 'n' class (not part of A) is left out although it
/// is on.
pub fn keyspace_events_shown(stored: &str) -> String {
    match stored.strip_prefix("An") {
        Some(rest) => format!("A{rest}"),
        None => stored.to_string(),
    }
}

/// The options of `shutdown-on-sigint` / `shutdown-on-sigterm`, in the
/// order Redis prints them.
pub const SHUTDOWN_OPTIONS: [&str; 4] = ["save", "nosave", "now", "force"];

/// `shutdown-on-sigint` / `shutdown-on-sigterm`: `default` or any of
/// [`SHUTDOWN_OPTIONS`] (not both save and nosave), stored as Redis
/// prints them ("nosave now").
pub fn shutdown_on_signal(args: &[String], _: &str) -> Result<String, String> {
    let mut on = [false; 4];
    let words: Vec<String> = args
        .iter()
        .flat_map(|a| a.split(' '))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    const ONE_OF: &str =
        "argument(s) must be one of the following: default, save, nosave, now, force";
    if words.is_empty() {
        return Err(ONE_OF.into());
    }
    for w in &words {
        match SHUTDOWN_OPTIONS.iter().position(|o| o == w) {
            Some(i) => on[i] = true,
            None if w == "default" => {}
            None => return Err(ONE_OF.into()),
        }
    }
    if on[0] && on[1] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let names: Vec<&str> = (0..4)
        .filter(|&i| on[i])
        .map(|i| SHUTDOWN_OPTIONS[i])
        .collect();
    Ok(if names.is_empty() {
        "default".into()
    } else {
        names.join(" ")
    })
}

/// `oom-score-adj-values <normal> <replica> <bgchild>`.
pub fn oom_score_adj_values(args: &[String], _: &str) -> Result<String, String> {
    let words: Vec<&str> = args
        .iter()
        .flat_map(|a| a.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for w in words {
        match parse_int(w) {
            Some(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out.join(" "))
}

/// `latency-tracking-info-percentiles <p> ...`, each 0..=100.
pub fn percentiles(args: &[String], _: &str) -> Result<String, String> {
    let words: Vec<&str> = args
        .iter()
        .flat_map(|a| a.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for w in words {
        match w.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => out.push(format!("{p}")),
            _ => return Err("Invalid latency-tracking-info-percentiles parameters".into()),
        }
    }
    Ok(out.join(" "))
}

/// `maxmemory-clients`: bytes or a percentage (`10%`).
pub fn memory_or_percent(args: &[String], _: &str) -> Result<String, String> {
    let [v] = args else {
        return Err("wrong number of arguments".into());
    };
    if let Some(n) = parse_memory(v) {
        return Ok(n.to_string());
    }
    match v.strip_suffix('%').and_then(parse_int) {
        // Redis stores a percentage as its negation: 0% is plain 0.
        Some(0) => return Ok("0".into()),
        Some(p) if p > 100 => return Err("percentage argument must be less or equal to 100".into()),
        Some(p) if p > 0 => return Ok(format!("{p}%")),
        _ => {}
    }
    Err("argument must be a memory or percent value".into())
}

/// `replicaof <host> <port>` or `replicaof no one`.
pub fn replicaof(args: &[String], _: &str) -> Result<String, String> {
    // `--replicaof "host port"` on the command line arrives as one
    // argument, which Redis splits like a config-file line.
    let split: Vec<String>;
    let args = if args.len() == 1 && args[0].contains(' ') {
        split = args[0].split_whitespace().map(str::to_string).collect();
        &split[..]
    } else {
        args
    };
    match args {
        [] => Ok(String::new()),
        [a] if a.is_empty() => Ok(String::new()),
        [a, b] if a.eq_ignore_ascii_case("no") && b.eq_ignore_ascii_case("one") => {
            Ok(String::new())
        }
        [host, port] => match parse_int(port) {
            Some(p) if (0..=65535).contains(&p) => Ok(format!("{host} {p}")),
            _ => Err("Invalid master port".into()),
        },
        _ => Err("wrong number of arguments".into()),
    }
}

/// `unixsocketperm`: an octal mode.
pub fn octal_perm(args: &[String], _: &str) -> Result<String, String> {
    let [v] = args else {
        return Err("wrong number of arguments".into());
    };
    match u32::from_str_radix(v, 8) {
        Ok(n) if n <= 0o777 => Ok(format!("{n:o}")),
        _ => Err("Invalid socket file permissions".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn keyspace_events_canonical() {
        assert_eq!(notify_keyspace_events(&s(&["KEA"]), "").unwrap(), "AKE");
        assert_eq!(notify_keyspace_events(&s(&["xgE"]), "").unwrap(), "gxE");
        assert_eq!(notify_keyspace_events(&s(&[""]), "").unwrap(), "");
        assert!(notify_keyspace_events(&s(&["Q"]), "").is_err());
        assert!(notify_keyspace_events(&s(&["KEA", "n"]), "").is_err());
        assert_eq!(notify_keyspace_events(&s(&["AKEnm"]), "").unwrap(), "AnKEm");
        assert_eq!(keyspace_events_shown("AnKEm"), "AKEm");
        assert_eq!(notify_keyspace_events(&s(&["Kgn"]), "").unwrap(), "gnK");
    }

    #[test]
    fn output_buffer_limits_merge() {
        let cur = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        let v = client_output_buffer_limit(&s(&["normal", "1mb", "2mb", "3"]), cur).unwrap();
        assert_eq!(
            v,
            "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert!(client_output_buffer_limit(&s(&["foo"]), cur).is_err());
    }

    #[test]
    fn save_params() {
        assert_eq!(save(&s(&[""]), "").unwrap(), "");
        assert_eq!(
            save(&s(&["3600", "1", "300", "100"]), "").unwrap(),
            "3600 1 300 100"
        );
        assert!(save(&s(&["100"]), "").is_err());
    }
}

/// One class of `client-output-buffer-limit` (`normal`, `replica` or
/// `pubsub`), from the directive's canonical value
/// ("normal h s t slave h s t pubsub h s t", bytes and seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimits {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl OutputLimits {
    pub fn for_class(value: &str, class: &str) -> OutputLimits {
        let words: Vec<&str> = value.split_whitespace().collect();
        for w in words.chunks(4) {
            let name = if w[0] == "slave" { "replica" } else { w[0] };
            if w.len() == 4 && name == class {
                let num = |s: &str| s.parse::<u64>().unwrap_or(0);
                return OutputLimits {
                    hard: num(w[1]),
                    soft: num(w[2]),
                    soft_secs: num(w[3]),
                };
            }
        }
        OutputLimits::default()
    }
}
