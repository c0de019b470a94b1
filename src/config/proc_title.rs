//! `proc-title-template`: Redis's template syntax (sdstemplate), its
//! check (validateProcTitleTemplate) and the process title it makes
//! (redisSetProcTitle), set through sys/proc_title.rs.

use super::keys as conf;
use super::Config;

/// Expands `template`, each `{name}` through `var` (`None`: unknown, the
/// template is refused); `{{` is a literal `{`. `None` on an unknown
/// variable or an unterminated one. The result is trimmed of spaces.
pub fn expand(template: &str, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return None;
        }
        if let Some(tail) = after.strip_prefix('{') {
            out.push('{');
            rest = tail;
            continue;
        }
        let close = after.find('}')?;
        out.push_str(&var(&after[..close])?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out.trim_matches(' ').to_string())
}

/// The variables of a process title, from `config` (`title`: the name
/// the process was started with).
pub fn variable(config: &Config, title: &str, name: &str) -> Option<String> {
    let port = config.int(conf::PORT);
    let unixsocket = config.text(conf::UNIXSOCKET);
    Some(match name {
        "title" => title.to_string(),
        "listen-addr" if port != 0 => {
            let bind = config.text(conf::BIND);
            // No bind address (`bind ""`) shows as `*`, as in Redis.
            let first = bind.split(' ').find(|w| !w.is_empty()).unwrap_or("*");
            format!("{first}:{port}")
        }
        "listen-addr" => format!("unixsocket:{unixsocket}"),
        "server-mode" if config.flag(conf::CLUSTER_ENABLED) => "[cluster]".into(),
        "server-mode" => String::new(),
        "config-file" => match &config.file {
            Some(f) => std::path::absolute(f)
                .unwrap_or_else(|_| f.clone())
                .display()
                .to_string(),
            None => "-".into(),
        },
        "port" => port.to_string(),
        // Shardis has no TLS port.
        "tls-port" => "0".into(),
        "unixsocket" => unixsocket,
        _ => return None,
    })
}

/// Redis's isValidProcTitleTemplate: the template expands, with an empty
/// title, to something not empty.
pub fn check(config: &Config, template: &str) -> Result<(), String> {
    match expand(template, |name| variable(config, "", name)) {
        Some(title) if !title.is_empty() => Ok(()),
        _ => Err("template format is invalid or contains unknown variables".into()),
    }
}

/// Sets the process title from `proc-title-template` (unless
/// `set-proc-title no`), as Redis does at start-up and when the template
/// or the port changes.
pub fn apply(config: &Config) {
    if !config.flag(conf::SET_PROC_TITLE) {
        return;
    }
    let argv0 = crate::sys::proc_title::argv0();
    let template = config.text(conf::PROC_TITLE_TEMPLATE);
    if let Some(title) = expand(&template, |name| variable(config, &argv0, name)) {
        crate::sys::proc_title::set(&title);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_checks_like_redis() {
        let c = Config::default();
        let v = |n: &str| variable(&c, "/usr/bin/shardis-server", n);
        assert_eq!(
            expand("{title} {listen-addr} {server-mode}", v).as_deref(),
            Some("/usr/bin/shardis-server *:6379")
        );
        assert_eq!(expand("a {{b} c}", v).as_deref(), Some("a {b} c}"));
        assert_eq!(expand("x {port", v), None);
        assert_eq!(expand("x {", v), None);
        assert!(check(
            &c,
            "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}"
        )
        .is_ok());
        for bad in ["{invalid-var}", "{title}", "  {server-mode} ", "", "{title"] {
            assert_eq!(
                check(&c, bad).unwrap_err(),
                "template format is invalid or contains unknown variables",
                "{bad:?}"
            );
        }
    }
}
