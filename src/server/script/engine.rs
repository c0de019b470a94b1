//! One Lua 5.1 state per shard thread (mlua), the `redis` library's Rust
//! side, and Redis 7.0's conversions between Lua values and RESP
//! (script_lua.c: luaReplyToRedisReply, redisProtocolToLuaType).
//!
//! The state runs one script at a time: a script runs synchronously from
//! start to end (its shards are held by the caller), so nothing else on
//! this thread can enter it meanwhile.

use super::cache::{self, Script};
use super::call_stats;
use crate::resp::Out;
use crate::server::acl::check::Denial;
use crate::server::spec::CommandSpec;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::RefCell;
use std::sync::Arc;

const PRELUDE: &str = include_str!("prelude.lua");

/// What a script's `redis.call` runs commands with (the caller's hold).
pub trait Calls {
    /// Runs `argv` (checked by the engine) in `db`; returns its reply as
    /// RESP3 or RESP2 bytes.
    fn call(&mut self, argv: &[&[u8]], db: usize, resp3: bool) -> Vec<u8>;
    /// The `databases` setting (SELECT's range).
    fn databases(&self) -> usize;
    /// Why the server's state refuses a call now (Redis's
    /// scriptVerifyWriteCommandAllow and scriptVerifyAllowStale: MISCONF,
    /// NOREPLICAS, READONLY, MASTERDOWN); None: it may run.
    fn state_refusal(&self, facts: crate::server::dispatch::StateFacts) -> Option<String>;
    /// Why the caller's ACL user may not run `argv` (None: it may, or no
    /// connection is at hand: inside a transaction's step); `log` adds a
    /// denial to the ACL log (context `lua`).
    fn acl_denial(&self, spec: &CommandSpec, argv: &[&[u8]], log: bool) -> Option<Denial>;
    /// Cluster mode (Redis's scriptVerifyClusterState, but for the
    /// same-slot rule, which is the engine's): the slot of the call's keys
    /// when this node serves them all; None when not in cluster mode, the
    /// caller is our master, or the call has no keys; Err: the script's
    /// error.
    fn cluster_slot(
        &self,
        spec: &CommandSpec,
        argv: &[&[u8]],
        db: usize,
    ) -> Result<Option<u16>, String>;
    /// Once the script ran: a tracking caller is remembered as reading the
    /// script's declared `keys` if the script called a read-only command
    /// (Redis's call() remembers the keys of the script's caller, not
    /// those of the commands it ran).
    fn track_declared(&mut self, keys: &[&[u8]]);
    /// The caller's shard (the running thread's: its INFO counts the
    /// script's calls, its capture gathers the script's writes) and the
    /// caller's client id; None while the AOF loads (no client, nothing
    /// counted or propagated).
    fn home(&self) -> Option<(&crate::server::shard::ShardRt, u64)>;
}

/// What an invocation runs.
#[derive(Clone)]
pub enum What {
    /// EVAL / EVALSHA: a cached script.
    Script { sha: [u8; 40], script: Arc<Script> },
    /// FCALL: a library's function.
    Function(super::library::Found),
}

/// One EVAL/EVALSHA/FCALL invocation.
pub struct Invocation<'a> {
    pub what: What,
    pub keys: &'a [&'a [u8]],
    pub args: &'a [&'a [u8]],
    /// EVAL_RO / EVALSHA_RO.
    pub ro: bool,
    pub db: usize,
    /// The calling client speaks RESP3.
    pub client_resp3: bool,
    /// Over `maxmemory` when the script started (Redis's
    /// pre_command_oom_state): its first write that may grow memory fails.
    pub oom: bool,
}

pub(super) struct State {
    pub(super) lua: Lua,
    pub(super) hooks: Table,
    generation: u64,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn new_state() -> mlua::Result<State> {
    // SAFETY: the debug library is used only by the prelude's error
    // handler and removed from the globals before any script runs.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::new(),
        )
    };
    super::bit::install(&lua)?;
    super::cjson::install(&lua)?;
    super::cmsgpack::install(&lua)?;
    super::structlib::install(&lua)?;
    super::unpack::install(&lua)?;
    let hooks = lua.create_table()?;
    hooks.set(
        "sha1hex",
        lua.create_function(|lua, v: Value| {
            let bytes = match &v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => crate::resp::fmt_g(*n, 14).into_bytes(),
                _ => Vec::new(),
            };
            lua.create_string(cache::sha1hex(&bytes))
        })?,
    )?;
    hooks.set(
        "log",
        lua.create_function(|_, (level, msg): (i64, mlua::LuaString)| {
            use crate::sys::log::Level;
            let level = match level {
                0 => Level::Debug,
                1 => Level::Verbose,
                2 => Level::Notice,
                _ => Level::Warning,
            };
            crate::sys::log::log(level, &String::from_utf8_lossy(&msg.as_bytes()));
            Ok(())
        })?,
    )?;
    // SAFETY: the two C functions only move values on the Lua stack and
    // hold nothing a Lua error could skip.
    unsafe {
        hooks.set("c_call", lua.create_c_function(c_redis_call)?)?;
        hooks.set("c_pcall", lua.create_c_function(c_redis_pcall)?)?;
        hooks.set("c_sha1hex", lua.create_c_function(c_sha1hex)?)?;
        hooks.set("c_log", lua.create_c_function(c_log)?)?;
        hooks.set("c_setresp", lua.create_c_function(c_setresp)?)?;
        hooks.set("c_set_repl", lua.create_c_function(c_set_repl)?)?;
        hooks.set("c_acl_check", lua.create_c_function(c_acl_check)?)?;
    }
    hooks.set(
        "deprecated_api",
        super::DEPRECATED_API.load(std::sync::atomic::Ordering::Relaxed),
    )?;
    lua.load(PRELUDE)
        .set_name("@shardis_prelude")
        .call::<()>(hooks.clone())?;
    lua.set_named_registry_value("shardis_mkerr", hooks.get::<Function>("mkerr")?)?;
    super::timeout::install(&lua);
    lua.set_named_registry_value("shardis_call", hooks.get::<Function>("call_impl")?)?;
    for name in ["sha1hex", "log", "setresp", "set_repl", "acl_check"] {
        let f = hooks.get::<Function>(format!("impl_{name}"))?;
        lua.set_named_registry_value(&format!("shardis_{name}"), f)?;
    }
    Ok(State {
        lua,
        hooks,
        generation: cache::generation(),
    })
}

unsafe extern "C-unwind" fn c_redis_call(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_call", Some(true))
}

unsafe extern "C-unwind" fn c_redis_pcall(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_call", Some(false))
}

unsafe extern "C-unwind" fn c_sha1hex(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_sha1hex", None)
}

unsafe extern "C-unwind" fn c_log(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_log", None)
}

unsafe extern "C-unwind" fn c_setresp(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_setresp", None)
}

unsafe extern "C-unwind" fn c_set_repl(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_set_repl", None)
}

unsafe extern "C-unwind" fn c_acl_check(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    raw_call(l, c"shardis_acl_check", None)
}

/// redis.call / redis.pcall (and the other library functions that may
/// raise): the registry's `imp` (`hooks.call(raise, n, {...})` for the two)
/// returns the value and whether to raise it (as Redis's luaRedisGenericCommand, a C
/// function, so the error names the script's line).
unsafe fn raw_call(
    l: *mut mlua::lua_State,
    imp: &std::ffi::CStr,
    raise: Option<bool>,
) -> std::os::raw::c_int {
    use mlua::ffi;
    let mut n = ffi::lua_gettop(l);
    if let Some(raise) = raise {
        // The command's arguments go as one table and their count: a
        // Rust callback takes at most ~8000 values, Redis takes more.
        // (A C function always has LUA_MINSTACK free slots for these.)
        ffi::lua_createtable(l, n, 0);
        for i in 1..=n {
            ffi::lua_pushvalue(l, i);
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
        }
        ffi::lua_insert(l, 1);
        ffi::lua_settop(l, 1);
        ffi::lua_pushboolean(l, raise as std::os::raw::c_int);
        ffi::lua_insert(l, 1);
        ffi::lua_pushinteger(l, n as ffi::lua_Integer);
        ffi::lua_insert(l, 2);
        n = 3;
    }
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, imp.as_ptr());
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, 2);
    let failed = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -2);
    if failed {
        ffi::lua_error(l);
    }
    1
}

/// Runs `f` with this thread's Lua state (created, or created afresh after
/// SCRIPT FLUSH).
pub(super) fn with_state<R>(f: impl FnOnce(&State) -> R) -> R {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = slot
            .as_ref()
            .is_none_or(|s| s.generation != cache::generation());
        if fresh {
            *slot = Some(new_state().expect("the Lua prelude loads"));
        }
        f(slot.as_ref().expect("state"))
    })
}

fn fname(sha: &[u8; 40]) -> String {
    format!("f_{}", std::str::from_utf8(sha).expect("hex"))
}

/// Compiles `body` (checking it as SCRIPT LOAD and EVAL do); the error is
/// Redis's reply text.
pub fn compile(sha: &[u8; 40], script: &Script) -> Result<(), String> {
    with_state(|st| compile_in(st, sha, script).map(|_| ()))
}

fn compile_in(st: &State, sha: &[u8; 40], script: &Script) -> Result<Function, String> {
    let name = fname(sha);
    if let Ok(f) = st.lua.named_registry_value::<Function>(&name) {
        return Ok(f);
    }
    let code = &script.body[script.shebang_len..];
    let f = st
        .lua
        .load(code)
        .set_name("@user_script")
        .into_function()
        .map_err(|e| {
            format!(
                "ERR Error compiling script (new function): {}",
                lua_error_text(&e)
            )
        })?;
    let env: Table = st.hooks.get("env").map_err(|e| e.to_string())?;
    f.set_environment(env).map_err(|e| e.to_string())?;
    st.lua
        .set_named_registry_value(&name, f.clone())
        .map_err(|e| e.to_string())?;
    Ok(f)
}

/// The message of a Lua error as Lua would print it.
pub(super) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// Per-run state the `redis` library reaches.
struct Run<'a> {
    calls: &'a mut dyn Calls,
    db: usize,
    /// redis.setresp.
    resp3: bool,
    ro: bool,
    dirty: bool,
    oom: bool,
    /// The slot the script's keys hash to so far (cluster mode): its
    /// declared keys', then its first call's with keys.
    slot: Option<u16>,
    /// Calls may reach keys of several slots (an EVAL without shebang, or
    /// the `allow-cross-slot-keys` flag).
    cross_slot: bool,
}

/// Runs one invocation; returns the reply bytes for the client.
pub fn run(inv: &Invocation<'_>, calls: &mut dyn Calls) -> Vec<u8> {
    with_state(|st| run_in(st, inv, calls))
}

fn run_in(st: &State, inv: &Invocation<'_>, calls: &mut dyn Calls) -> Vec<u8> {
    let target = match &inv.what {
        What::Script { sha, script } => compile_in(st, sha, script).map(|f| Target {
            f,
            name: sha,
            flags: script.flags,
            function: false,
        }),
        What::Function(found) => super::library::callback(st, found).map(|f| Target {
            f,
            name: found.info().name.as_bytes(),
            flags: found.info().flags,
            function: true,
        }),
    };
    match target {
        Ok(target) => execute(st, &target, inv, calls),
        Err(e) => {
            let mut out = Out::new(inv.client_resp3);
            out.error(&e);
            out.buf
        }
    }
}

/// What runs: a cached script's compiled body (KEYS and ARGV globals) or
/// a library's function (called with them as its two arguments).
struct Target<'a> {
    pub f: Function,
    /// The SHA or the function name, for error messages.
    pub name: &'a [u8],
    pub flags: cache::ScriptFlags,
    pub function: bool,
}

/// Runs `target` for `inv`.
fn execute(
    st: &State,
    target: &Target<'_>,
    inv: &Invocation<'_>,
    calls: &mut dyn Calls,
) -> Vec<u8> {
    let mut out = Out::new(inv.client_resp3);
    let f = &target.f;
    let lua = &st.lua;
    let run = RefCell::new(Run {
        calls,
        db: inv.db,
        resp3: false,
        ro: inv.ro || target.flags.no_writes,
        dirty: false,
        oom: inv.oom && !target.flags.allow_oom,
        slot: inv.keys.first().map(|k| crate::slot::key_slot(k)),
        cross_slot: target.flags.compat || target.flags.allow_cross_slot,
    });
    let result = lua.scope(|scope| {
        let hooks = &st.hooks;
        hooks.set(
            "call",
            scope.create_function(|lua, (raise, n, args): (bool, i64, Table)| {
                redis_call(lua, &run, raise, n, args)
            })?,
        )?;
        hooks.set(
            "setresp",
            scope.create_function(|_, v: i64| {
                run.borrow_mut().resp3 = v == 3;
                Ok(())
            })?,
        )?;
        hooks.set(
            "set_repl",
            scope.create_function(|_, flags: i64| {
                if let Some((rt, _)) = run.borrow().calls.home() {
                    super::repl_flags::set(rt, flags);
                }
                Ok(())
            })?,
        )?;
        hooks.set(
            "acl_check",
            scope.create_function(|lua, args: MultiValue| acl_check(lua, &run, args))?,
        )?;
        let handler: Function = hooks.get("err_handler")?;
        let (ok, value): (bool, Value) = if target.function {
            let xpcall: Function = hooks.get("fn_xpcall")?;
            let (keys, args) = (array(lua, inv.keys)?, array(lua, inv.args)?);
            xpcall.call((f.clone(), handler, keys, args))?
        } else {
            let vars: Table = hooks.get("vars")?;
            vars.set("KEYS", array(lua, inv.keys)?)?;
            vars.set("ARGV", array(lua, inv.args)?)?;
            let xpcall: Function = hooks.get("xpcall")?;
            xpcall.call((f.clone(), handler))?
        };
        let resp3 = run.borrow().resp3;
        call_stats::take_in_reply();
        if ok {
            reply_from_lua(&mut out, &value, resp3, 0);
        } else if call_stats::marked(&value) {
            call_stats::note_in_reply();
            error_reply(&mut out, &value, target.name);
        } else {
            error_reply(&mut out, &value, target.name);
        }
        // Errors of calls that failed, counted when they did.
        let counted = call_stats::take_in_reply();
        if let (true, Some((_, client))) = (counted > 0, run.borrow().calls.home()) {
            crate::server::observe::errors_counted_already(client, counted);
        }
        Ok(())
    });
    if let Some((rt, _)) = run.borrow().calls.home() {
        super::repl_flags::reset(rt);
    }
    if let Err(e) = result {
        out.buf.clear();
        out.error(&format!(
            "ERR Error running script {}, {:.100}",
            String::from_utf8_lossy(target.name),
            lua_error_text(&e)
        ));
    }
    super::timeout::after_run(lua);
    // Small steps of garbage collection keep the heap in check without a
    // full cycle per script.
    let _ = lua.gc_step();
    out.buf
}

fn array(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, a) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(a)?)?;
    }
    Ok(t)
}

/// The final error of a failed script (luaCallFunction).
fn error_reply(out: &mut Out, err: &Value, sha: &[u8]) {
    let Value::Table(t) = err else {
        let msg = match err {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".into(),
        };
        let sha = String::from_utf8_lossy(sha);
        let msg: String = msg.chars().take(100).collect();
        return out.error(&format!("ERR Error running script {sha}, {msg}"));
    };
    let field = |k: &str| -> Option<String> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(crate::resp::fmt_g(n, 14)),
            _ => None,
        }
    };
    let mut msg = field("err").unwrap_or_default();
    if let (Some(line), Some(source)) = (field("line"), field("source")) {
        let sha = String::from_utf8_lossy(sha);
        msg.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    out.error(&msg);
}

/// Lua value -> reply (luaReplyToRedisReply); `resp3` is the script's
/// protocol (redis.setresp), `out` the client's.
fn reply_from_lua(out: &mut Out, v: &Value, resp3: bool, depth: usize) {
    if depth > 200 {
        return out.error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.boolean(*b)
            } else if *b {
                out.int(1)
            } else {
                out.null()
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(super::c_api::c_long_long(*n)),
        Value::Table(t) => table_reply(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn str_field(t: &Table, k: &str) -> Option<Vec<u8>> {
    match t.raw_get::<Value>(k).ok()? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn table_reply(out: &mut Out, t: &Table, resp3: bool, depth: usize) {
    if let Some(err) = str_field(t, "err") {
        if call_stats::is_marked(t) {
            call_stats::note_in_reply();
        }
        return out.error_bytes(&err);
    }
    if let Some(ok) = str_field(t, "ok") {
        let ok: Vec<u8> = ok
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        return out.simple_bytes(&ok);
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return out.double(d),
        Ok(Value::Integer(i)) => return out.double(i as f64),
        _ => {}
    }
    if let Some(big) = str_field(t, "big_number") {
        let big: Vec<u8> = big
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        if out.resp3 {
            out.raw(b"(");
            out.raw(&big);
            out.raw(b"\r\n");
        } else {
            out.bulk(&big);
        }
        return;
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Some(format), Some(s)) = (str_field(&vt, "format"), str_field(&vt, "string")) {
            if out.resp3 {
                let mut body = format[..format.len().min(3)].to_vec();
                body.resize(3, b' ');
                body.push(b':');
                body.extend_from_slice(&s);
                out.raw(format!("={}\r\n", body.len()).as_bytes());
                out.raw(&body);
                out.raw(b"\r\n");
            } else {
                out.bulk(&s);
            }
            return;
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            reply_from_lua(out, k, resp3, depth + 1);
            reply_from_lua(out, v, resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            reply_from_lua(out, k, resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    for j in 1.. {
        match t.raw_get::<Value>(j) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        reply_from_lua(out, v, resp3, depth + 1);
    }
}

/// RESP reply -> Lua value (redisProtocolToLuaType); returns the value and
/// the bytes it took.
fn lua_from_reply(lua: &Lua, buf: &[u8]) -> mlua::Result<(Value, usize)> {
    let nl = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    let line = &buf[1..nl.saturating_sub(1).max(1)];
    let head = nl + 1;
    let num = |l: &[u8]| -> i64 {
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let one = |k: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(k, v)?;
        Ok(Value::Table(t))
    };
    Ok(match buf[0] {
        b':' => (Value::Number(num(line) as f64), head),
        b'$' | b'=' => {
            let n = num(line);
            if n < 0 {
                (Value::Boolean(false), head)
            } else {
                let body = &buf[head..head + n as usize];
                let v = if buf[0] == b'=' {
                    let t = lua.create_table()?;
                    t.raw_set("format", lua.create_string(&body[..3.min(body.len())])?)?;
                    t.raw_set("string", lua.create_string(body.get(4..).unwrap_or(b""))?)?;
                    one("verbatim_string", Value::Table(t))?
                } else {
                    Value::String(lua.create_string(body)?)
                };
                (v, head + n as usize + 2)
            }
        }
        b'+' => (one("ok", Value::String(lua.create_string(line)?))?, head),
        b'-' => {
            let mkerr: Function = lua.named_registry_value("shardis_mkerr")?;
            let mut s = b"-".to_vec();
            s.extend_from_slice(line);
            let t: Table = mkerr.call(lua.create_string(&s)?)?;
            t.raw_set(call_stats::COUNTED_MARK, true)?;
            (Value::Table(t), head)
        }
        b'_' => (Value::Nil, head),
        b'#' => (Value::Boolean(line == b"t"), head),
        b',' => {
            let s = String::from_utf8_lossy(line);
            let d = match s.as_ref() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                s => s.parse().unwrap_or(0.0),
            };
            (one("double", Value::Number(d))?, head)
        }
        b'(' => (
            one("big_number", Value::String(lua.create_string(line)?))?,
            head,
        ),
        // A push ('>') is no type Redis's reply parser knows: the call
        // gives nil (the default arm).
        b'*' | b'~' | b'%' | b'|' => {
            let n = num(line);
            if n < 0 {
                return Ok((Value::Boolean(false), head));
            }
            let mut pos = head;
            let t = lua.create_table()?;
            match buf[0] {
                b'*' => {
                    for i in 0..n {
                        let (v, used) = lua_from_reply(lua, &buf[pos..])?;
                        pos += used;
                        t.raw_set(i + 1, v)?;
                    }
                    (Value::Table(t), pos)
                }
                b'~' => {
                    for _ in 0..n {
                        let (v, used) = lua_from_reply(lua, &buf[pos..])?;
                        pos += used;
                        t.raw_set(v, true)?;
                    }
                    (one("set", Value::Table(t))?, pos)
                }
                b'%' => {
                    for _ in 0..n {
                        let (k, used) = lua_from_reply(lua, &buf[pos..])?;
                        pos += used;
                        let (v, used) = lua_from_reply(lua, &buf[pos..])?;
                        pos += used;
                        t.raw_set(k, v)?;
                    }
                    (one("map", Value::Table(t))?, pos)
                }
                _ => {
                    // An attribute is skipped; the value after it counts.
                    for _ in 0..2 * n {
                        pos += lua_from_reply(lua, &buf[pos..])?.1;
                    }
                    let (v, used) = lua_from_reply(lua, &buf[pos..])?;
                    (v, pos + used)
                }
            }
        }
        _ => (Value::Nil, buf.len()),
    })
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let mkerr: Function = lua.named_registry_value("shardis_mkerr")?;
    mkerr.call(msg)
}

/// redis.call's `n` arguments (1..=n of `args`) as bytes, or Redis's
/// error.
fn argv_of(n: i64, args: &Table) -> Result<Vec<Vec<u8>>, &'static str> {
    if n == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    (1..=n)
        .map(|i| match &args.raw_get::<Value>(i).unwrap_or(Value::Nil) {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Integer(i) => Ok(i.to_string().into_bytes()),
            Value::Number(n) => Ok(crate::resp::fmt_g(*n, 17).into_bytes()),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// `hooks.call(raise, n, args)`: returns (value, failed).
fn redis_call(
    lua: &Lua,
    run: &RefCell<Run<'_>>,
    raise: bool,
    n: i64,
    args: Table,
) -> mlua::Result<(Value, bool)> {
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = err_table(lua, msg)?;
        Ok((t, raise))
    };
    // An error counted in INFO already (the call was refused or failed).
    let fail_counted = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = err_table(lua, msg)?;
        if let Value::Table(t) = &t {
            t.raw_set(call_stats::COUNTED_MARK, true)?;
        }
        Ok((t, raise))
    };
    let argv = match argv_of(n, &args) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let mut run = run.borrow_mut();
    if let Err(e) = check(&refs, &mut run) {
        let name = crate::server::table::lookup(&refs).map(|s| s.name);
        if let Some((rt, _)) = run.calls.home() {
            call_stats::rejected(rt, name, &e);
        }
        return fail_counted(&e);
    }
    // SELECT stays inside the script (Redis 7.0 restores the caller's db).
    let spec = crate::server::table::lookup(&refs).expect("checked");
    if spec.name == "select" {
        let db = std::str::from_utf8(refs[1])
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let n = run.calls.databases();
        let err = match db {
            Some(d) if d >= 0 && (d as usize) < n => None,
            Some(_) => Some("-ERR DB index is out of range"),
            None => Some("-ERR value is not an integer or out of range"),
        };
        if let Some((rt, _)) = run.calls.home() {
            call_stats::answered(rt, spec.name, err);
        }
        if let Some(err) = err {
            return fail_counted(err);
        }
        run.db = db.unwrap_or_default() as usize;
        let t = lua.create_table()?;
        t.raw_set("ok", "OK")?;
        return Ok((Value::Table(t), false));
    }
    let (db, resp3) = (run.db, run.resp3);
    let reply = run.calls.call(&refs, db, resp3);
    drop(run);
    let (v, _) = lua_from_reply(lua, &reply)?;
    let failed = raise && reply.first() == Some(&b'-');
    Ok((v, failed))
}

/// Redis's scriptCall checks before a command runs.
fn check(argv: &[&[u8]], run: &mut Run<'_>) -> Result<(), String> {
    use crate::server::dispatch::StateFacts;
    use crate::server::spec::Flags;
    let Some(spec) = crate::server::table::lookup(argv) else {
        return Err("Unknown Redis command called from script".into());
    };
    if !crate::server::table::arity_ok(spec, argv.len()) {
        return Err("Wrong number of args calling Redis command from script".into());
    }
    if spec.flags.has(Flags::NOSCRIPT)
        && !super::ALLOW_NOSCRIPT.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err("This Redis command is not allowed from script".into());
    }
    // Redis's scriptVerifyAllowStale.
    let stale = !spec.flags.has(Flags::STALE);
    if stale
        && run
            .calls
            .state_refusal(StateFacts::only(false, true))
            .is_some()
    {
        return Err("Can not execute the command on a stale replica".into());
    }
    // Redis's scriptVerifyACL.
    if let Some(d) = run.calls.acl_denial(spec, argv, true) {
        let why = match d {
            Denial::Command => "can't run this command or subcommand",
            Denial::Key(_) => {
                "can't access at least one of the keys mentioned in the command arguments"
            }
            Denial::Channel(_) => "can't publish to the channel mentioned in the command",
        };
        return Err(format!("The user executing the script {why}"));
    }
    if run.ro && (spec.flags.has(Flags::WRITE) || spec.flags.has(Flags::MAY_REPLICATE)) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    // Redis's scriptVerifyWriteCommandAllow: once the script wrote, its
    // later writes are not refused on the server's state.
    let write = spec.flags.has(Flags::WRITE) && !run.dirty;
    if let Some(e) = run.calls.state_refusal(StateFacts::only(write, false)) {
        return Err(format!("-{e}"));
    }
    if run.oom && !run.dirty && spec.flags.has(Flags::DENYOOM) {
        return Err(format!("-{}", crate::server::evict::OOM));
    }
    if spec.flags.has(Flags::WRITE) {
        run.dirty = true;
        super::timeout::note_write();
    }
    if let Some(slot) = run.calls.cluster_slot(spec, argv, run.db)? {
        if !run.cross_slot && *run.slot.get_or_insert(slot) != slot {
            return Err("Script attempted to access keys that do not hash to the same slot".into());
        }
    }
    Ok(())
}

/// redis.acl_check_cmd: whether the caller's user may run the command
/// with these arguments (nothing is logged).
fn acl_check(lua: &Lua, run: &RefCell<Run<'_>>, args: MultiValue) -> mlua::Result<Value> {
    let n = args.len() as i64;
    let args = lua.create_sequence_from(args)?;
    let argv = match argv_of(n, &args) {
        Ok(a) => a,
        Err(e) => return err_table(lua, e),
    };
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let Some(spec) = crate::server::table::lookup(&refs) else {
        return err_table(lua, "Invalid command passed to redis.acl_check_cmd()");
    };
    // Key positions need the command's arity.
    if !crate::server::table::arity_ok(spec, refs.len()) {
        return Ok(Value::Boolean(false));
    }
    let denied = run.borrow().calls.acl_denial(spec, &refs, false).is_some();
    Ok(Value::Boolean(!denied))
}
