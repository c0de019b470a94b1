//! XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER / HELP
//! (xgroupCommand): options are parsed first, then the key and group
//! are looked up, so Redis's error order holds. Propagated verbatim.

use super::id::{parse, strict};
use crate::command::util::{arg_i64, is, NOT_INTEGER};
use crate::command::{Class, Ctx};
use crate::store::packed_box::PackedBox;
use crate::store::stream::{Group, Stream, INVALID_ENTRIES_READ};
use crate::store::Value;

const HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

pub(super) fn xgroup_help(ctx: &mut Ctx, _: &[&[u8]]) {
    crate::command::help::reply_help(ctx.out, "XGROUP", HELP);
}

fn syntax(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned();
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try XGROUP HELP."
    ));
}

/// `-NOGROUP No such consumer group '<group>' for key name '<key>'`.
pub(super) fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    let msg = [
        &b"NOGROUP No such consumer group '"[..],
        group,
        b"' for key name '",
        key,
        b"'",
    ]
    .concat();
    ctx.out.error_bytes(&msg);
}

const NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// The options after `<id>`: (MKSTREAM, ENTRIESREAD), or replied an error.
fn options(ctx: &mut Ctx, args: &[&[u8]], create: bool) -> Option<(bool, i64)> {
    let (mut mkstream, mut read) = (false, INVALID_ENTRIES_READ);
    let mut i = 5;
    while i < args.len() {
        if create && is(args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if is(args[i], "entriesread") && i + 1 < args.len() {
            match arg_i64(args[i + 1]) {
                None => {
                    ctx.out.error(NOT_INTEGER);
                    return None;
                }
                Some(n) if n < 0 && n != INVALID_ENTRIES_READ => {
                    ctx.out
                        .error("ERR value for ENTRIESREAD must be positive or -1");
                    return None;
                }
                Some(n) => read = n,
            }
            i += 2;
        } else {
            syntax(ctx, args);
            return None;
        }
    }
    Some((mkstream, read))
}

/// Whether `key` holds a stream (None: missing); WRONGTYPE replied as Err.
fn is_stream(ctx: &mut Ctx, key: &[u8]) -> Result<bool, ()> {
    match ctx
        .lookup_write(key)
        .map(|e| matches!(e.value, Value::Stream(_)))
    {
        None => Ok(false),
        Some(true) => Ok(true),
        Some(false) => {
            ctx.out.error(crate::command::util::WRONGTYPE);
            Err(())
        }
    }
}

fn written(ctx: &mut Ctx, event: &str, key: &[u8]) {
    ctx.dirty += 1;
    ctx.modified.get_or_insert_with(Vec::new);
    ctx.notify(Class::Stream, event, key);
}

pub(super) fn xgroup_create(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((mkstream, read)) = options(ctx, args, true) else {
        return;
    };
    let (key, name) = (args[2], args[3]);
    let Ok(exists) = is_stream(ctx, key) else {
        return;
    };
    if !exists && !mkstream {
        return ctx.out.error(NEEDS_KEY);
    }
    if args.len() > 8 {
        return syntax(ctx, args);
    }
    let id = if args[4] == b"$" {
        None
    } else {
        match strict(args[4]) {
            Ok(id) => Some(id),
            Err(e) => return ctx.out.error(e),
        }
    };
    if !exists {
        let lru = ctx.lru;
        ctx.db()
            .set(key, Value::Stream(PackedBox::new(Stream::new())), lru);
        ctx.modified = Some(vec![2]);
    }
    let s = stream_write!(ctx, key, ctx.out.error(NEEDS_KEY));
    if s.groups.contains_key(name) {
        return ctx
            .out
            .error("BUSYGROUP Consumer Group name already exists");
    }
    let id = id.unwrap_or(s.last_id);
    s.groups.insert(name.to_vec(), Group::new(id, read));
    ctx.out.ok();
    written(ctx, "xgroup-create", key);
}

/// The key's stream and the group, or replied the error (Redis's checks
/// shared by SETID, CREATECONSUMER, DELCONSUMER, DESTROY).
macro_rules! group_at {
    ($ctx:ident, $args:ident, $need_group:expr) => {{
        let (key, name) = ($args[2], $args[3]);
        let s = stream_write!($ctx, key, $ctx.out.error(NEEDS_KEY));
        if $need_group && !s.groups.contains_key(name) {
            return nogroup($ctx, key, name);
        }
        s
    }};
}

pub(super) fn xgroup_setid(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((_, read)) = options(ctx, args, false) else {
        return;
    };
    let s = group_at!(ctx, args, true);
    if args.len() != 5 && args.len() != 7 {
        return syntax(ctx, args);
    }
    let id = if args[4] == b"$" {
        s.last_id
    } else {
        match parse(args[4], 0, false, false) {
            Ok((id, _)) => id,
            Err(e) => return ctx.out.error(e),
        }
    };
    let g = s.groups.get_mut(args[3]).expect("checked");
    g.last_id = id;
    g.entries_read = read;
    ctx.out.ok();
    written(ctx, "xgroup-setid", args[2]);
}

pub(super) fn xgroup_destroy(ctx: &mut Ctx, args: &[&[u8]]) {
    let s = group_at!(ctx, args, false);
    if s.groups.remove(args[3]).is_none() {
        return ctx.out.int(0);
    }
    ctx.out.int(1);
    written(ctx, "xgroup-destroy", args[2]);
    // Clients blocked in XREADGROUP on the group are told it is gone
    // (Redis signals the key as ready). The key also counts as modified
    // for WATCH and tracking, which Redis's DESTROY does not signal.
    ctx.modified = Some(vec![2]);
}

pub(super) fn xgroup_createconsumer(ctx: &mut Ctx, args: &[&[u8]]) {
    let now = ctx.now_ms;
    let s = group_at!(ctx, args, true);
    let g = s.groups.get_mut(args[3]).expect("checked");
    if !g.create_consumer(args[4], now) {
        return ctx.out.int(0);
    }
    ctx.out.int(1);
    written(ctx, "xgroup-createconsumer", args[2]);
}

pub(super) fn xgroup_delconsumer(ctx: &mut Ctx, args: &[&[u8]]) {
    let s = group_at!(ctx, args, true);
    let g = s.groups.get_mut(args[3]).expect("checked");
    match g.delete_consumer(args[4]) {
        None => ctx.out.int(0),
        Some(n) => {
            ctx.out.int(n as i64);
            written(ctx, "xgroup-delconsumer", args[2]);
        }
    }
}
