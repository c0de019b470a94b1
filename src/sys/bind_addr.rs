//! The addresses of the `bind` directive, for the client port and the
//! cluster bus port alike: parsed here, bound by whoever listens.

use std::net::{IpAddr, SocketAddr};

/// A bind address from the `bind` directive; `-` marks one whose
/// failure is not fatal (Redis's default `* -::*`).
#[derive(Clone, Debug)]
pub struct BindAddr {
    pub addr: SocketAddr,
    pub optional: bool,
    pub text: String,
}

/// Parses the `bind` value for `port`.
pub fn bind_addrs(bind: &str, port: u16) -> Result<Vec<BindAddr>, String> {
    let mut out = Vec::new();
    for word in bind.split_whitespace() {
        let (optional, text) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        let ip: IpAddr = match text {
            "*" => "0.0.0.0".parse().unwrap(),
            "::*" => "::".parse().unwrap(),
            other => other
                .parse()
                .map_err(|_| format!("Invalid bind address '{other}'"))?,
        };
        out.push(BindAddr {
            addr: SocketAddr::new(ip, port),
            optional,
            text: text.to_string(),
        });
    }
    Ok(out)
}
