//! ACL: the container and its subcommands. Users, rules and checks live
//! in server/acl; these handlers show and change them.

mod inspect;
mod users;

use super::spec::{Acl, CommandSpec, Flags, Handler};

/// Subcommands that read or change users: admin, not from scripts.
const ADMIN: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
/// CAT, GENPASS, WHOAMI: anyone may run them.
const PLAIN: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);

pub static ACL: CommandSpec = CommandSpec {
    name: "acl",
    arity: -2,
    acl: Acl::SLOW,
    group: "server",
    since: "6.0.0",
    summary: "A container for Access List Control commands ",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

/// A subcommand entry; every ACL subcommand is `@slow` plus what its
/// flags imply.
const fn sub(
    name: &'static str,
    arity: i32,
    flags: Flags,
    handler: super::spec::ConnFn,
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: Acl::SLOW,
        handler: Handler::Conn(handler),
        group: "server",
        since: "6.0.0",
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    sub(
        "acl|cat",
        -2,
        PLAIN,
        inspect::cat,
        "List the ACL categories or the commands inside a category",
        "O(1) since the categories and commands are a fixed set.",
    ),
    sub(
        "acl|deluser",
        -3,
        ADMIN,
        users::deluser,
        "Remove the specified ACL users and the associated rules",
        "O(1) amortized time considering the typical user.",
    ),
    CommandSpec {
        since: "7.0.0",
        ..sub(
            "acl|dryrun",
            -4,
            ADMIN,
            inspect::dryrun,
            "Returns whether the user can execute the given command without executing the command.",
            "O(1).",
        )
    },
    sub(
        "acl|genpass",
        -2,
        PLAIN,
        inspect::genpass,
        "Generate a pseudorandom secure password to use for ACL users",
        "O(1)",
    ),
    sub(
        "acl|getuser",
        3,
        ADMIN,
        users::getuser,
        "Get the rules for a specific ACL user",
        "O(N). Where N is the number of password, command and pattern rules that the user has.",
    ),
    sub(
        "acl|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        inspect::help,
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    sub(
        "acl|list",
        2,
        ADMIN,
        users::list,
        "List the current ACL rules in ACL config file format",
        "O(N). Where N is the number of configured users.",
    ),
    sub(
        "acl|load",
        2,
        ADMIN,
        users::load,
        "Reload the ACLs from the configured ACL file",
        "O(N). Where N is the number of configured users.",
    ),
    sub(
        "acl|log",
        -2,
        ADMIN,
        inspect::log,
        "List latest events denied because of ACLs in place",
        "O(N) with N being the number of entries shown.",
    ),
    sub(
        "acl|save",
        2,
        ADMIN,
        users::save,
        "Save the current ACL rules in the configured ACL file",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec {
        redact: Some(redact_setuser),
        ..sub(
            "acl|setuser",
            -3,
            ADMIN,
            users::setuser,
            "Modify or create the rules for a specific ACL user",
            "O(N). Where N is the number of rules provided.",
        )
    },
    sub(
        "acl|users",
        2,
        ADMIN,
        users::users,
        "List the username of all the configured ACL rules",
        "O(N). Where N is the number of configured users.",
    ),
    sub(
        "acl|whoami",
        2,
        PLAIN,
        users::whoami,
        "Return the name of the user associated to the current connection",
        "O(1)",
    ),
];

/// ACL SETUSER's user name and rules (passwords among them) are kept
/// out of the slow log and MONITOR, as Redis redacts them.
fn redact_setuser(_: &[&[u8]], i: usize) -> bool {
    i >= 2
}
