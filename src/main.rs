//! `shardis-server [path/to/redis.conf] [--directive value ...]`: start
//! order only — configuration, process set-up, then the executors.

use crate::config::keys as conf;
use clap::Parser;
use shardis::{command, config, server, sys};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "shardis-server",
    version,
    about = "Thread-per-core Redis-compatible server",
    override_usage = "shardis-server [/path/to/redis.conf] [--directive value ...]"
)]
struct Cli {
    /// A redis.conf file, then directives as `--name value ...`, applied
    /// after the file (e.g. `--port 7000 --shards 4`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG] [--DIRECTIVE VALUE"
    )]
    args: Vec<String>,
}

/// Groups `--port 7000 --bind a b` into `[("port", ["7000"]), ("bind", ["a", "b"])]`,
/// as redis-server 7.0 reads its arguments: the word after an option name
/// is always its value, even when it starts with `--`
/// (`--proc-title-template --save`); one word may hold the name and its
/// values (`"--port 7000"`); `--save` with nothing after it, or followed
/// by another option, means `save ""`.
fn group_directives(words: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut needs_value = false;
    for (i, w) in words.iter().enumerate() {
        let Some(name) = w.strip_prefix("--").filter(|_| !needs_value) else {
            match out.last_mut() {
                Some(last) => last.1.push(w.clone()),
                // Words before any option start the first line, as
                // Redis appends them to its options text
                // (`redis.conf loglevel verbose --port 7000`).
                None => out.push((w.clone(), Vec::new())),
            }
            needs_value = false;
            continue;
        };
        let parts = shardis::resp::split_words(name).unwrap_or_else(|| vec![name.to_string()]);
        if parts.len() > 1 {
            out.push((parts[0].clone(), parts[1..].to_vec()));
            needs_value = false;
            continue;
        }
        out.push((name.trim().to_string(), Vec::new()));
        needs_value = true;
        let next_is_option = words.get(i + 1).is_some_and(|n| n.starts_with("--"));
        if name.eq_ignore_ascii_case("save") && (next_is_option || i + 1 == words.len()) {
            if let Some(last) = out.last_mut() {
                last.1.push(String::new());
            }
            needs_value = false;
        }
    }
    out
}

fn main() -> ExitCode {
    // While the process has one thread: the title's room is made first.
    shardis::sys::proc_title::init();
    abort_on_panic();
    shardis::alloc::return_big_frees_to_os();
    let cli = Cli::parse();
    // Like redis-server, the config file may be omitted: `--port 7000`.
    let (file, rest) = match cli.args.split_first() {
        Some((first, rest)) if !first.starts_with("--") => (Some(PathBuf::from(first)), rest),
        _ => (None, &cli.args[..]),
    };
    let directives = group_directives(rest);
    let cfg = match config::load(file.as_deref(), &directives) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shardis: fatal config error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = sys::log::set_file(&cfg.text(conf::LOGFILE)) {
        eprintln!(
            "shardis: can't open the log file '{}': {e}",
            cfg.text(conf::LOGFILE)
        );
        return ExitCode::from(1);
    }
    sys::log::set_level(&cfg.text(conf::LOGLEVEL));
    sys::crash::install();
    EXIT_ON_PANIC.store(
        cfg.flag(conf::USE_EXIT_ON_PANIC),
        std::sync::atomic::Ordering::Relaxed,
    );
    config::proc_title::apply(&cfg);
    if cfg.flag(conf::DAEMONIZE) {
        if let Err(e) = server::probe::daemonize() {
            eprintln!("shardis: daemonize failed: {e}");
            return ExitCode::from(1);
        }
    }
    let dir = cfg.text(conf::DIR);
    if let Err(e) = std::env::set_current_dir(&dir) {
        eprintln!("shardis: can't chdir to '{dir}': {e}");
        return ExitCode::from(1);
    }
    let pidfile = match cfg.text(conf::PIDFILE) {
        p if p.is_empty() && cfg.flag(conf::DAEMONIZE) => "/var/run/redis.pid".to_string(),
        p => p,
    };
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    server::probe::block_signals();
    // The server looks commands up in the table the families register.
    if let Err(e) = command::install_renamed(&cfg.rename_commands) {
        eprintln!("shardis: fatal config error: {e}");
        return ExitCode::from(1);
    }
    // Users are checked against the command table, so after it.
    let all_channels = cfg.text(conf::ACL_PUBSUB_DEFAULT) == "allchannels";
    if let Err(e) = server::acl::file::check_config_users(&cfg.users, all_channels) {
        eprintln!("shardis: fatal config error: {e}");
        return ExitCode::from(1);
    }
    match server::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A failure to start (a damaged AOF or RDB, a port taken) is
            // a log line, where Redis's serverLog puts it and operators
            // (and Redis's tests) look; with a log file, the terminal
            // hears of it too.
            sys::log::log(sys::log::Level::Warning, &e);
            if sys::log::to_file() {
                eprintln!("shardis: {e}");
            }
            ExitCode::from(1)
        }
    }
}

/// A panic on any shard thread ends the process, as in release builds
/// (`panic = "abort"`): the other shards would otherwise wait forever on
/// the dead one's queues while still accepting connections.
/// `use-exit-on-panic yes` exits with status 1 instead.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        if EXIT_ON_PANIC.load(std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(1);
        }
        std::process::abort();
    }));
}

/// `use-exit-on-panic`, set once the config is read.
static EXIT_ON_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
