//! The function libraries (Redis 7.0's functions.c): a registry every
//! shard shares (FUNCTION LOAD on one connection, FCALL on a connection of
//! another shard), and each shard thread's compiled copy of a library.
//!
//! A library is its code; loading runs the code once, its
//! `redis.register_function` calls naming the functions. The registry
//! keeps the code and what the load registered; a thread that runs a
//! function of a library it has not loaded yet (or of an older version of
//! it, after FUNCTION LOAD REPLACE) runs the code again in its own Lua
//! state (the code can only register functions, so it registers the same
//! ones).

use super::cache::ScriptFlags;
use super::engine::{self, State};
use mlua::{Function, Table, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

const FUNCTIONS_LUA: &str = include_str!("functions.lua");

/// Redis's LOAD_TIMEOUT_MS: a library's code runs this long at most.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
pub struct FunctionInfo {
    pub name: String,
    pub desc: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// One library.
pub struct Library {
    pub name: String,
    /// The whole code, shebang line included (FUNCTION LIST WITHCODE,
    /// DUMP, the RDB).
    pub code: Vec<u8>,
    /// Where the Lua code starts: at the shebang's newline, so line
    /// numbers count the shebang.
    body_start: usize,
    /// In registration order.
    pub functions: Vec<FunctionInfo>,
    /// Unique per load: a thread's compiled copy of an older version is
    /// stale.
    version: u64,
}

impl Library {
    fn body(&self) -> &[u8] {
        &self.code[self.body_start..]
    }
}

/// A function found by FCALL.
#[derive(Clone)]
pub struct Found {
    pub lib: Arc<Library>,
    pub index: usize,
}

impl Found {
    pub fn info(&self) -> &FunctionInfo {
        &self.lib.functions[self.index]
    }
}

#[derive(Default, Clone)]
struct Registry {
    /// By name (case-sensitive, as Redis's).
    libs: BTreeMap<String, Arc<Library>>,
    /// Lower-case function name -> its library and index (function names
    /// are case-insensitive across libraries).
    funcs: HashMap<String, Found>,
}

impl Registry {
    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.funcs.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    fn link(&mut self, lib: Arc<Library>) {
        for (index, f) in lib.functions.iter().enumerate() {
            let found = Found {
                lib: lib.clone(),
                index,
            };
            self.funcs.insert(f.name.to_ascii_lowercase(), found);
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// The first function of `lib` another library already has.
    fn collision(&self, lib: &Library) -> Option<String> {
        lib.functions
            .iter()
            .find(|f| self.funcs.contains_key(&f.name.to_ascii_lowercase()))
            .map(|f| f.name.clone())
    }
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(Default::default);
static VERSION: AtomicU64 = AtomicU64::new(1);

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().expect("function registry")
}

/// Writes the registry and keeps the RDB writers' copy of the codes
/// current.
fn write<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut reg = REGISTRY.write().expect("function registry");
    let r = f(&mut reg);
    let codes = reg.libs.values().map(|l| l.code.clone()).collect();
    crate::persist::rdb::functions::set_codes(codes);
    r
}

/// FCALL's lookup (case-insensitive).
pub fn find(name: &[u8]) -> Option<Found> {
    let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    read().funcs.get(&name).cloned()
}

/// Every library, by name.
pub fn libraries() -> Vec<Arc<Library>> {
    read().libs.values().cloned().collect()
}

/// (libraries, functions) for FUNCTION STATS.
pub fn counts() -> (usize, usize) {
    let r = read();
    (r.libs.len(), r.funcs.len())
}

/// FUNCTION DELETE: false if there is no such library.
pub fn delete(name: &[u8]) -> bool {
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    write(|r| r.unlink(name).is_some())
}

/// FUNCTION FLUSH.
pub fn flush() {
    write(|r| *r = Registry::default());
}

/// The library name and Lua code start of a library's code
/// (functionExtractLibMetaData, then the name and engine checks).
fn metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    // Redis reads the code as a C string: a NUL ends it.
    let Some(end) = memchr::memchr2(b'\n', 0, code).filter(|&e| code[e] == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let (mut scratch, mut ranges) = (Vec::new(), Vec::new());
    if !crate::resp::split_args(&code[..end], &mut scratch, &mut ranges) || ranges.is_empty() {
        return Err("Invalid library metadata".into());
    }
    let parts: Vec<&[u8]> = ranges.iter().map(|&(s, e)| &scratch[s..e]).collect();
    let engine = parts[0].get(2..).unwrap_or(b"");
    let mut name: Option<&[u8]> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(&part[5..]);
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !valid_name(name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok((String::from_utf8(name.to_vec()).expect("checked"), end))
}

/// [a-zA-Z0-9_]+ (functionsVerifyName).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// FUNCTION LOAD [REPLACE] and the RDB's libraries: checks and runs
/// `code` here, then registers it for every shard. Returns the library
/// name; Err is the error text (without the ERR code).
pub fn load(code: &[u8], replace: bool) -> Result<String, String> {
    let (name, body_start) = metadata(code)?;
    if !replace && read().libs.contains_key(&name) {
        return Err(format!("Library '{name}' already exists"));
    }
    let version = VERSION.fetch_add(1, Ordering::Relaxed);
    let registered = engine::with_state(|st| compile(st, &code[body_start..]))?;
    if registered.is_empty() {
        return Err("No functions registered".into());
    }
    let functions = registered
        .iter()
        .map(|r| FunctionInfo {
            name: r.name.clone(),
            desc: r.desc.clone(),
            flags: r.flags,
        })
        .collect();
    let lib = Arc::new(Library {
        name: name.clone(),
        code: code.to_vec(),
        body_start,
        functions,
        version,
    });
    write(|reg| {
        if !replace && reg.libs.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        let old = reg.unlink(&name);
        if let Some(f) = reg.collision(&lib) {
            if let Some(old) = old {
                reg.link(old);
            }
            return Err(format!("Function {f} already exists"));
        }
        reg.link(lib.clone());
        Ok(())
    })?;
    remember(&lib, registered);
    Ok(name)
}

/// How FUNCTION RESTORE (and an RDB load) joins libraries to the registry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Flush,
    Append,
    Replace,
}

/// Loads every code into a new set, then joins it (libraryJoin): nothing
/// changes on any error. Err is the error text (without the ERR code).
pub fn restore(codes: &[Vec<u8>], policy: Policy) -> Result<(), String> {
    let mut fresh = Registry::default();
    let mut compiled = Vec::new();
    for code in codes {
        let (name, body_start) = metadata(code)?;
        if fresh.libs.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        let registered = engine::with_state(|st| compile(st, &code[body_start..]))?;
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        let lib = Arc::new(Library {
            name,
            code: code.clone(),
            body_start,
            functions: registered
                .iter()
                .map(|r| FunctionInfo {
                    name: r.name.clone(),
                    desc: r.desc.clone(),
                    flags: r.flags,
                })
                .collect(),
            version: VERSION.fetch_add(1, Ordering::Relaxed),
        });
        if let Some(f) = fresh.collision(&lib) {
            return Err(format!("Function {f} already exists"));
        }
        fresh.link(lib.clone());
        compiled.push((lib, registered));
    }
    write(|reg| {
        if policy == Policy::Flush {
            *reg = fresh;
            return Ok(());
        }
        let mut joined = reg.clone();
        for name in fresh.libs.keys() {
            if joined.libs.contains_key(name) {
                if policy == Policy::Append {
                    return Err(format!("Library {name} already exists"));
                }
                joined.unlink(name);
            }
        }
        for lib in fresh.libs.values() {
            if let Some(f) = joined.collision(lib) {
                return Err(format!("Function {f} already exists"));
            }
        }
        for lib in fresh.libs.values() {
            joined.link(lib.clone());
        }
        *reg = joined;
        Ok(())
    })?;
    for (lib, registered) in compiled {
        remember(&lib, registered);
    }
    Ok(())
}

/// Redis's RDB opcodes of a library in a FUNCTION DUMP payload.
pub const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION: u8 = 246;

/// The libraries' codes of a FUNCTION DUMP payload (without its version
/// and CRC); Err is Redis's error text.
pub fn payload_codes(body: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut r = crate::persist::rdb::reader::Reader::new(body);
    let mut codes = Vec::new();
    while r.pos() < body.len() {
        let t = r.u8().map_err(|_| "can not read data type")?;
        if t != OPCODE_FUNCTION && t != OPCODE_FUNCTION2 {
            return Err("given type is not a function");
        }
        // The format of 7.0's release candidates is not read.
        if t == OPCODE_FUNCTION {
            return Err("failed loading the given functions payload");
        }
        let code = r
            .string()
            .map_err(|_| "failed loading the given functions payload")?;
        codes.push(code);
    }
    Ok(codes)
}

/// Applies a FUNCTION command read from the AOF (LOAD, DELETE, FLUSH,
/// RESTORE); Err is the error it would have replied.
pub fn replay(argv: &[&[u8]]) -> Result<(), String> {
    let sub = argv
        .get(1)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    match sub.as_slice() {
        b"load" if argv.len() >= 3 => {
            let replace = argv[2..argv.len() - 1]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(b"replace"));
            load(argv[argv.len() - 1], replace).map(|_| ())
        }
        b"delete" if argv.len() == 3 => delete(argv[2])
            .then_some(())
            .ok_or("Library not found".into()),
        b"flush" => {
            flush();
            Ok(())
        }
        b"restore" if argv.len() >= 3 => {
            let data = argv[2];
            if !crate::persist::rdb::payload::verify(data) {
                return Err("DUMP payload version or checksum are wrong".into());
            }
            let codes = payload_codes(&data[..data.len() - 10])?;
            let policy = match argv.get(3).map(|p| p.to_ascii_lowercase()).as_deref() {
                Some(b"flush") => Policy::Flush,
                Some(b"replace") => Policy::Replace,
                _ => Policy::Append,
            };
            restore(&codes, policy)
        }
        _ => Err("unknown FUNCTION subcommand".into()),
    }
}

/// What one run of a library's code registered.
struct Registered {
    name: String,
    desc: Option<Vec<u8>>,
    flags: ScriptFlags,
    callback: Function,
}

/// A thread's copy of a library: (version, Lua state generation,
/// lower-case function name -> callback).
type Compiled = (u64, u64, HashMap<String, Function>);

thread_local! {
    /// This thread's compiled libraries, by name.
    static COMPILED: RefCell<HashMap<String, Compiled>> = RefCell::new(HashMap::new());
    /// When the library being loaded on this thread runs out of time.
    static DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

fn remember(lib: &Library, registered: Vec<Registered>) {
    let callbacks = registered
        .into_iter()
        .map(|r| (r.name.to_ascii_lowercase(), r.callback))
        .collect();
    let generation = super::cache::generation();
    COMPILED.with(|c| {
        c.borrow_mut()
            .insert(lib.name.clone(), (lib.version, generation, callbacks))
    });
}

/// The callback of `found` in this thread's Lua state, loading its
/// library here first if needed.
pub(super) fn callback(st: &State, found: &Found) -> Result<Function, String> {
    let lib = &found.lib;
    let key = found.info().name.to_ascii_lowercase();
    let generation = super::cache::generation();
    let cached = COMPILED.with(|c| {
        let c = c.borrow();
        let (v, g, fs) = c.get(&lib.name)?;
        (*v == lib.version && *g == generation)
            .then(|| fs.get(&key).cloned())
            .flatten()
    });
    if let Some(f) = cached {
        return Ok(f);
    }
    let registered = compile(st, lib.body())?;
    let f = registered
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(&key))
        .map(|r| r.callback.clone())
        .ok_or_else(|| "Function not found".to_string())?;
    remember(lib, registered);
    Ok(f)
}

/// Installs the function globals in a Lua state once.
fn ensure_installed(st: &State) -> Result<(), String> {
    if st.hooks.contains_key("fn_load").unwrap_or(false) {
        return Ok(());
    }
    st.lua
        .load(FUNCTIONS_LUA)
        .set_name("@shardis_functions")
        .call::<()>(st.hooks.clone())
        .map_err(|e| e.to_string())
}

/// Runs a library's Lua code in `st` under the load sandbox; returns what
/// it registered, or Redis's error text.
fn compile(st: &State, body: &[u8]) -> Result<Vec<Registered>, String> {
    ensure_installed(st)?;
    let chunk = st
        .lua
        .load(body)
        .set_name("@user_function")
        .into_function()
        .map_err(|e| format!("Error compiling function: {}", engine::lua_error_text(&e)))?;
    let globals: Table = st.hooks.get("fn_globals").map_err(|e| e.to_string())?;
    chunk.set_environment(globals).map_err(|e| e.to_string())?;
    let run: Function = st.hooks.get("fn_load").map_err(|e| e.to_string())?;
    DEADLINE.with(|d| d.set(Some(Instant::now() + LOAD_TIMEOUT)));
    let _ = st.lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        |_, _| {
            if DEADLINE
                .with(|d| d.get())
                .is_some_and(|t| Instant::now() > t)
            {
                return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
            }
            Ok(mlua::VmState::Continue)
        },
    );
    let result = run.call::<(bool, Value)>(chunk);
    super::timeout::install(&st.lua);
    DEADLINE.with(|d| d.set(None));
    let (ok, value) = result.map_err(|e| format!("Error registering functions: {e}"))?;
    if !ok {
        return Err(format!(
            "Error registering functions: {}",
            load_error(&value)
        ));
    }
    let Value::Table(list) = value else {
        return Err("Error registering functions: bad registration list".into());
    };
    let mut out = Vec::new();
    for entry in list.sequence_values::<Table>() {
        let t = entry.map_err(|e| e.to_string())?;
        let name: String = t.get("name").map_err(|e| e.to_string())?;
        let desc: Option<mlua::LuaString> = t.get("desc").map_err(|e| e.to_string())?;
        let callback: Function = t.get("callback").map_err(|e| e.to_string())?;
        let names: Vec<String> = t.get("flags").map_err(|e| e.to_string())?;
        let mut flags = ScriptFlags::default();
        for f in names {
            match f.as_str() {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                _ => flags.allow_cross_slot = true,
            }
        }
        out.push(Registered {
            name,
            desc: desc.map(|d| d.as_bytes().to_vec()),
            flags,
            callback,
        });
    }
    Ok(out)
}

/// The message of a load's error value (luaExtractErrorInformation).
fn load_error(v: &Value) -> String {
    match v {
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "ERR unknown error".into(),
        },
        Value::Error(e) => format!("ERR {}", engine::lua_error_text(e)),
        _ => "ERR unknown error".into(),
    }
}

/// The flags of a function as FUNCTION LIST names them, in Redis's order.
pub fn flag_names(f: &ScriptFlags) -> Vec<&'static str> {
    let all = [
        (f.no_writes, "no-writes"),
        (f.allow_oom, "allow-oom"),
        (f.allow_stale, "allow-stale"),
        (f.no_cluster, "no-cluster"),
        (f.allow_cross_slot, "allow-cross-slot-keys"),
    ];
    all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
}
