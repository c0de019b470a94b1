//! COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | GETKEYSANDFLAGS | HELP],
//! all derived from the command table: the `CommandSpec` entries give
//! names, arity, flags, ACL categories, key specs, tips and the summary
//! lines; `command_docs.rs` (generated from redis-server 7.0.15) gives
//! what a spec does not hold: argument docs, history, doc flags and
//! key-spec notes.

use super::help::reply_help;
use super::spec::{
    Acl, BeginSearch, Behavior, CommandSpec, FindKeys, Flags, Handler, KeyFlags, ACL_NAMES,
    FLAG_NAMES, KEY_FLAG_NAMES,
};
use super::util::{is, SYNTAX};
use super::{table, Table};
use crate::resp::Out;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;
use std::collections::HashMap;
use std::sync::OnceLock;

const CMD_FLAGS: Flags = Flags::LOADING.with(Flags::STALE);
const CMD_ACL: Acl = Acl::SLOW.with_bits(Acl::CONNECTION);

pub static COMMAND: CommandSpec = CommandSpec {
    name: "command",
    behavior: Behavior::NO_SHARD,
    arity: -1,
    flags: CMD_FLAGS,
    acl: CMD_ACL,
    handler: Handler::Conn(all),
    tips: &["nondeterministic_output_order"],
    group: "server",
    since: "2.8.13",
    summary: "Get array of Redis command details",
    complexity: "O(N) where N is the total number of Redis commands",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

macro_rules! sub {
    ($name:expr, $arity:expr, $h:expr, $tips:expr, $since:expr, $summary:expr, $complexity:expr) => {
        CommandSpec {
            name: $name,
            behavior: Behavior::NO_SHARD,
            arity: $arity,
            flags: CMD_FLAGS,
            acl: CMD_ACL,
            handler: Handler::Conn($h),
            tips: $tips,
            group: "server",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

const ANY_ORDER: &[&str] = &["nondeterministic_output_order"];

static SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "command|count",
        2,
        count,
        &[],
        "2.8.13",
        "Get total number of Redis commands",
        "O(1)"
    ),
    sub!(
        "command|docs",
        -2,
        docs,
        ANY_ORDER,
        "7.0.0",
        "Get array of specific Redis command documentation",
        "O(N) where N is the number of commands to look up"
    ),
    sub!(
        "command|getkeys",
        -4,
        getkeys,
        &[],
        "2.8.13",
        "Extract keys given a full Redis command",
        "O(N) where N is the number of arguments to the command"
    ),
    sub!(
        "command|getkeysandflags",
        -4,
        getkeysandflags,
        &[],
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command"
    ),
    sub!(
        "command|help",
        2,
        help,
        &[],
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)"
    ),
    sub!(
        "command|info",
        -2,
        info,
        ANY_ORDER,
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
        "O(N) where N is the number of commands to look up"
    ),
    sub!(
        "command|list",
        -2,
        list,
        ANY_ORDER,
        "7.0.0",
        "Get an array of Redis command names",
        "O(N) where N is the total number of Redis commands"
    ),
];

// ---------------------------------------------------------------- docs data

/// Argument flags, as COMMAND DOCS names them.
pub const OPTIONAL: u8 = 1;
pub const MULTIPLE: u8 = 2;
pub const MULTIPLE_TOKEN: u8 = 4;

/// One documented argument of a command.
#[derive(Clone, Copy)]
pub struct DocArg {
    pub name: &'static str,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
    /// `pure-token`, `oneof` or `block`.
    pub kind: &'static str,
    pub key_spec_index: i32,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub flags: u8,
    /// Members of a `oneof` or `block`.
    pub args: &'static [DocArg],
}

/// A documented argument (the builder the generated table uses).
pub const fn a(name: &'static str, kind: &'static str) -> DocArg {
    DocArg {
        name,
        kind,
        key_spec_index: -1,
        token: None,
        summary: None,
        since: None,
        deprecated_since: None,
        flags: 0,
        args: &[],
    }
}

impl DocArg {
    pub const fn ks(mut self, i: i32) -> Self {
        self.key_spec_index = i;
        self
    }
    pub const fn tok(mut self, t: &'static str) -> Self {
        self.token = Some(t);
        self
    }
    pub const fn sum(mut self, s: &'static str) -> Self {
        self.summary = Some(s);
        self
    }
    pub const fn since(mut self, s: &'static str) -> Self {
        self.since = Some(s);
        self
    }
    pub const fn dep(mut self, s: &'static str) -> Self {
        self.deprecated_since = Some(s);
        self
    }
    pub const fn fl(mut self, f: u8) -> Self {
        self.flags = f;
        self
    }
    pub const fn sub(mut self, args: &'static [DocArg]) -> Self {
        self.args = args;
        self
    }
}

/// What COMMAND DOCS / INFO print that a `CommandSpec` does not hold.
pub struct Doc {
    /// Full name (`get`, `config|get`).
    pub name: &'static str,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub args: &'static [DocArg],
    /// Notes of key specs, by key-spec index.
    pub key_notes: &'static [(usize, &'static str)],
}

impl Doc {
    pub const EMPTY: Doc = Doc {
        name: "",
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        args: &[],
        key_notes: &[],
    };
}

fn doc(name: &str) -> Option<&'static Doc> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Doc>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            super::command_docs::DOCS
                .iter()
                .map(|d| (d.name, d))
                .collect()
        })
        .get(name)
        .copied()
}

// ---------------------------------------------------------------- lookups

/// A command by full name (`get`, `CONFIG|GET`), as Redis's
/// `lookupCommandBySds`: one level of subcommands, exact.
fn by_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|&c| c == b'|');
    let first = parts.next()?;
    let spec = table().get(first)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(spec),
        (Some(sub), None) if !spec.subcommands.is_empty() => Table::sub(spec, sub),
        _ => None,
    }
}

/// A command from an argument vector (`config get x` -> config|get),
/// as Redis's `lookupCommand`.
fn by_argv(argv: &[Vec<u8>]) -> Option<&'static CommandSpec> {
    let names: Vec<&[u8]> = argv.iter().take(2).map(|a| a.as_slice()).collect();
    super::lookup(&names)
}

// ---------------------------------------------------------------- COMMAND INFO

/// Key-spec flag names in Redis's order and spelling.
fn key_flags(flags: KeyFlags) -> impl Iterator<Item = &'static str> {
    KEY_FLAG_NAMES
        .iter()
        .filter(move |(f, _)| flags.has(*f))
        .map(|(_, n)| *n)
}

/// The flags COMMAND INFO shows: the spec's, movablekeys derived from
/// the key specs, may_replicate hidden as Redis hides it.
fn info_flags(spec: &CommandSpec) -> Vec<&'static str> {
    FLAG_NAMES
        .iter()
        .filter(|(f, _)| {
            if *f == Flags::MOVABLEKEYS {
                spec.movable_keys()
            } else {
                *f != Flags::MAY_REPLICATE && spec.flags.has(*f)
            }
        })
        .map(|(_, n)| *n)
        .collect()
}

/// One command's COMMAND INFO entry (Redis's `addReplyCommandInfo`).
pub fn write_info(out: &mut Out, spec: &CommandSpec) {
    out.array(10);
    out.bulk_str(spec.name);
    out.int(spec.arity as i64);
    let flags = info_flags(spec);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = spec.legacy_range();
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let acl = spec.acl_categories();
    let cats: Vec<&str> = ACL_NAMES
        .iter()
        .filter(|(c, _)| acl.has(*c))
        .map(|(_, n)| *n)
        .collect();
    out.set(cats.len());
    for c in cats {
        out.simple(c);
    }
    out.set(spec.tips.len());
    for t in spec.tips {
        out.bulk_str(t);
    }
    let notes = doc(spec.name).map_or(&[][..], |d| d.key_notes);
    out.set(spec.keys.len());
    for (i, ks) in spec.keys.iter().enumerate() {
        let note = notes.iter().find(|(n, _)| *n == i).map(|(_, t)| *t);
        out.map(3 + note.is_some() as usize);
        if let Some(t) = note {
            out.bulk_str("notes");
            out.bulk_str(t);
        }
        out.bulk_str("flags");
        out.set(ks.flags.0.count_ones() as usize);
        for f in key_flags(ks.flags) {
            out.simple(f);
        }
        out.bulk_str("begin_search");
        out.map(2);
        out.bulk_str("type");
        match ks.begin {
            BeginSearch::Index(i) => {
                out.bulk_str("index");
                out.bulk_str("spec");
                out.map(1);
                out.bulk_str("index");
                out.int(i as i64);
            }
            BeginSearch::Keyword { keyword, startfrom } => {
                out.bulk_str("keyword");
                out.bulk_str("spec");
                out.map(2);
                out.bulk_str("keyword");
                out.bulk_str(keyword);
                out.bulk_str("startfrom");
                out.int(startfrom as i64);
            }
            BeginSearch::Unknown => {
                out.bulk_str("unknown");
                out.bulk_str("spec");
                out.map(0);
            }
        }
        out.bulk_str("find_keys");
        out.map(2);
        out.bulk_str("type");
        match ks.find {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                out.bulk_str("range");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("lastkey");
                out.int(lastkey as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
                out.bulk_str("limit");
                out.int(limit as i64);
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                out.bulk_str("keynum");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("keynumidx");
                out.int(keynumidx as i64);
                out.bulk_str("firstkey");
                out.int(firstkey as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
            }
            FindKeys::Unknown => {
                out.bulk_str("unknown");
                out.bulk_str("spec");
                out.map(0);
            }
        }
    }
    out.set(spec.subcommands.len());
    for sub in spec.subcommands {
        write_info(out, sub);
    }
}

// ---------------------------------------------------------------- COMMAND DOCS

fn write_args(out: &mut Out, args: &[DocArg]) {
    out.array(args.len());
    for arg in args {
        let container = matches!(arg.kind, "oneof" | "block");
        let n = 2
            + (arg.key_spec_index >= 0) as usize
            + arg.token.is_some() as usize
            + arg.summary.is_some() as usize
            + arg.since.is_some() as usize
            + arg.deprecated_since.is_some() as usize
            + (arg.flags != 0) as usize
            + container as usize;
        out.map(n);
        out.bulk_str("name");
        out.bulk_str(arg.name);
        out.bulk_str("type");
        out.bulk_str(arg.kind);
        if arg.key_spec_index >= 0 {
            out.bulk_str("key_spec_index");
            out.int(arg.key_spec_index as i64);
        }
        for (field, v) in [
            ("token", arg.token),
            ("summary", arg.summary),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ] {
            if let Some(v) = v {
                out.bulk_str(field);
                out.bulk_str(v);
            }
        }
        if arg.flags != 0 {
            out.bulk_str("flags");
            let names: Vec<&str> = [
                (OPTIONAL, "optional"),
                (MULTIPLE, "multiple"),
                (MULTIPLE_TOKEN, "multiple_token"),
            ]
            .iter()
            .filter(|(f, _)| arg.flags & f != 0)
            .map(|(_, n)| *n)
            .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if container {
            out.bulk_str("arguments");
            write_args(out, arg.args);
        }
    }
}

/// One command's COMMAND DOCS value (Redis's `addReplyCommandDocs`).
pub fn write_docs(out: &mut Out, spec: &CommandSpec) {
    let d = doc(spec.name).unwrap_or(&Doc::EMPTY);
    let n = 1
        + !spec.summary.is_empty() as usize
        + !spec.since.is_empty() as usize
        + !spec.complexity.is_empty() as usize
        + !d.doc_flags.is_empty() as usize
        + d.deprecated_since.is_some() as usize
        + d.replaced_by.is_some() as usize
        + !d.history.is_empty() as usize
        + !d.args.is_empty() as usize
        + !spec.subcommands.is_empty() as usize;
    out.map(n);
    for (field, v) in [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ] {
        if !v.is_empty() || field == "group" {
            out.bulk_str(field);
            out.bulk_str(v);
        }
    }
    if !d.doc_flags.is_empty() {
        out.bulk_str("doc_flags");
        out.set(d.doc_flags.len());
        for f in d.doc_flags {
            out.simple(f);
        }
    }
    if let Some(v) = d.deprecated_since {
        out.bulk_str("deprecated_since");
        out.bulk_str(v);
    }
    if let Some(v) = d.replaced_by {
        out.bulk_str("replaced_by");
        out.bulk_str(v);
    }
    if !d.history.is_empty() {
        out.bulk_str("history");
        out.set(d.history.len());
        for (version, text) in d.history {
            out.array(2);
            out.bulk_str(version);
            out.bulk_str(text);
        }
    }
    if !d.args.is_empty() {
        out.bulk_str("arguments");
        write_args(out, d.args);
    }
    if !spec.subcommands.is_empty() {
        out.bulk_str("subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk_str(sub.name);
            write_docs(out, sub);
        }
    }
}

// ---------------------------------------------------------------- handlers

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "COMMAND", HELP) })
}

/// COMMAND: every command's info.
fn all(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = &table().all;
        conn.out.array(all.len());
        for spec in all {
            write_info(&mut conn.out, spec);
        }
    })
}

fn count(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.int(table().all.len() as i64) })
}

/// COMMAND INFO [name ...]: unknown names are nulls.
fn info(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() == 2 {
            return all(conn, args).await;
        }
        conn.out.array(args.len() - 2);
        for name in &args[2..] {
            match by_full_name(name) {
                Some(spec) => write_info(&mut conn.out, spec),
                None => conn.out.null(),
            }
        }
    })
}

/// COMMAND DOCS [name ...]: a map; unknown names are left out.
fn docs(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let specs: Vec<&CommandSpec> = if args.len() == 2 {
            table().all.clone()
        } else {
            args[2..].iter().filter_map(|n| by_full_name(n)).collect()
        };
        conn.out.map(specs.len());
        for spec in specs {
            conn.out.bulk_str(spec.name);
            write_docs(&mut conn.out, spec);
        }
    })
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
/// every command and subcommand name.
fn list(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        enum Filter {
            None,
            Module,
            Acl(Option<Acl>),
            Pattern(Vec<u8>),
        }
        let filter = match args.len() {
            2 => Filter::None,
            5 if is(&args[2], "filterby") => {
                let v = &args[4];
                if is(&args[3], "module") {
                    Filter::Module
                } else if is(&args[3], "aclcat") {
                    let cat = ACL_NAMES
                        .iter()
                        .find(|(_, n)| n.as_bytes()[1..].eq_ignore_ascii_case(v))
                        .map(|(c, _)| *c);
                    Filter::Acl(cat)
                } else if is(&args[3], "pattern") {
                    Filter::Pattern(v.clone())
                } else {
                    return conn.out.error(SYNTAX);
                }
            }
            _ => return conn.out.error(SYNTAX),
        };
        let keep = |spec: &CommandSpec| match &filter {
            Filter::None => true,
            Filter::Module => false,
            Filter::Acl(cat) => cat.is_some_and(|c| spec.acl_categories().has(c)),
            Filter::Pattern(p) => crate::glob::matches(p, spec.name.as_bytes(), true),
        };
        let mut names = Vec::new();
        for spec in &table().all {
            if keep(spec) {
                names.push(spec.name);
            }
            names.extend(spec.subcommands.iter().filter(|s| keep(s)).map(|s| s.name));
        }
        conn.out.array(names.len());
        for n in names {
            conn.out.bulk_str(n);
        }
    })
}

/// The key positions of `argv` per the command's key specs, or the
/// error COMMAND GETKEYS gives.
fn keys_of(argv: &[Vec<u8>]) -> Result<(&'static CommandSpec, Vec<usize>), &'static str> {
    let Some(spec) = by_argv(argv) else {
        return Err("ERR Invalid command specified");
    };
    if spec.keys.is_empty() {
        return Err("ERR The command has no key arguments");
    }
    if !super::arity_ok(spec, argv.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let mut idx = Vec::new();
    spec.key_indexes(&refs, &mut idx);
    if idx.is_empty() && !spec.flags.has(Flags::NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command");
    }
    Ok((spec, idx))
}

/// COMMAND GETKEYS command [arg ...]
fn getkeys(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match keys_of(&args[2..]) {
            Ok((_, idx)) => {
                conn.out.array(idx.len());
                for i in idx {
                    conn.out.bulk(&args[2 + i]);
                }
            }
            Err(e) => conn.out.error(e),
        }
    })
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]: each key with the flags
/// of the key spec that found it.
fn getkeysandflags(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let argv = &args[2..];
        let (spec, idx) = match keys_of(argv) {
            Ok(v) => v,
            Err(e) => return conn.out.error(e),
        };
        // Which spec found each key.
        let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        let mut found = Vec::new();
        spec.key_positions(&refs, &mut found);
        let mut owner: HashMap<usize, KeyFlags> = HashMap::new();
        for (i, n) in found {
            let flags = spec.keys[n].flags;
            let decided = match spec.key_flags {
                Some(f) if flags.has(KeyFlags::VARIABLE_FLAGS) => f(&refs),
                _ => flags,
            };
            owner.entry(i).or_insert(decided);
        }
        conn.out.array(idx.len());
        for i in idx {
            conn.out.array(2);
            conn.out.bulk(&argv[i]);
            let flags = owner.get(&i).copied().unwrap_or_default();
            conn.out.set(flags.0.count_ones() as usize);
            for f in key_flags(flags) {
                conn.out.simple(f);
            }
        }
    })
}
