-- Shardis's Lua prelude: the `redis` library, Redis's pcall and error
-- handler, and the protection of globals (Redis 7.0's script_lua.c and
-- eval.c, rewritten). Run once per Lua state; gets the Rust hooks table.
local hooks = ...
local G = _G
local dbg = debug
local rawpcall, error, type, select, unpack, rawget, tostring, setmetatable =
    pcall, error, type, select, unpack, rawget, tostring, setmetatable

-- Redis's luaPushErrorBuff: "-CODE msg" or "msg" (code ERR).
-- (string functions held here: scripts cannot reach them.)
local ssub, sfind, sgsub = string.sub, string.find, string.gsub
local function mkerr(s)
    local code, msg
    if ssub(s, 1, 1) == '-' then
        local sp = sfind(s, ' ', 1, true)
        if sp then
            code, msg = ssub(s, 2, sp - 1), ssub(s, sp + 1)
        else
            code, msg = 'ERR', ssub(s, 2)
        end
    else
        code, msg = 'ERR', s
    end
    msg = sgsub(sgsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
    return {err = code .. ' ' .. msg}
end
hooks.mkerr = mkerr

local function raise(s) error(mkerr(s)) end

local redis = {}
-- redis.call / redis.pcall are C functions (a Lua one would be
-- tail-called by `return redis.call(...)`, losing the caller's line for
-- the error); they call this with `raise` first.
hooks.call_impl = function(...) return hooks.call(...) end
redis.call = hooks.c_call
redis.pcall = hooks.c_pcall
-- Library functions that may raise are C functions too (see above): each
-- calls its `impl_*` here, which returns the value and whether to raise it.
local function guarded(f)
    return function(...)
        local ok, r = rawpcall(f, ...)
        if ok then return r, false end
        return r, true
    end
end
hooks.impl_sha1hex = guarded(function(...)
    if select('#', ...) ~= 1 then raise('wrong number of arguments') end
    return hooks.sha1hex(...)
end)
redis.sha1hex = hooks.c_sha1hex
redis.error_reply = function(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then
        return mkerr('wrong number or type of arguments')
    end
    if ssub(s, 1, 1) ~= '-' then s = '-' .. s end
    return mkerr(s)
end
redis.status_reply = function(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then
        return mkerr('wrong number or type of arguments')
    end
    return {ok = s}
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
hooks.impl_log = guarded(function(...)
    local n = select('#', ...)
    if n < 2 then raise('redis.log() requires two arguments or more.') end
    local level = ...
    if tonumber(level) == nil then raise('First argument must be a number (log level).') end
    level = math.floor(tonumber(level))
    if level < 0 or level > 3 then raise('Invalid debug level.') end
    local parts = {}
    for i = 2, n do
        local v = select(i, ...)
        if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
    end
    hooks.log(level, table.concat(parts, ' '))
end)
redis.log = hooks.c_log
hooks.impl_setresp = guarded(function(...)
    if select('#', ...) ~= 1 then raise('redis.setresp() requires one argument.') end
    local v = tonumber((...)) or 0
    if v ~= 2 and v ~= 3 then raise('RESP version must be 2 or 3.') end
    hooks.setresp(v)
end)
redis.setresp = hooks.c_setresp
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
hooks.impl_set_repl = guarded(function(...)
    if select('#', ...) ~= 1 then raise('redis.set_repl() requires two arguments.') end
    local f = tonumber((...)) or 0
    if f ~= 0 and f ~= 1 and f ~= 2 and f ~= 3 then
        raise('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
    end
    hooks.set_repl(f)
end)
redis.set_repl = hooks.c_set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
hooks.impl_acl_check = function(...)
    local r = hooks.acl_check(...)
    return r, type(r) == 'table'
end
redis.acl_check_cmd = hooks.c_acl_check
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767

-- Redis 7 raises tables; its pcall hands back their message.
local function pack(...) return {n = select('#', ...), ...} end
local function redis_pcall(f, ...)
    local r = pack(rawpcall(f, ...))
    if not r[1] and type(r[2]) == 'table' and type(rawget(r[2], 'err')) == 'string' then
        return false, r[2].err
    end
    return unpack(r, 1, r.n)
end

-- Redis's __redis__err__handler: where in the user's script it failed.
function hooks.err_handler(err)
    local i
    for level = 2, 64 do
        local info = dbg.getinfo(level, 'Sl')
        if not info then break end
        if info.source == '@user_script' or info.source == '@user_function' then
            i = info break
        end
    end
    if type(err) ~= 'table' then
        err = {err = 'ERR ' .. tostring(err)}
    end
    if i then
        err['source'] = i.source
        err['line'] = i.currentline
    end
    return err
end
hooks.xpcall = xpcall

-- What scripts see: read-only library tables and globals.
local function readonly(t)
    return setmetatable({}, {
        __index = t,
        __newindex = function() error('Attempt to modify a readonly table', 2) end,
        __metatable = false,
    })
end
local env_vars = {}
hooks.vars = env_vars
local visible = {}
for _, name in ipairs({'xpcall', 'tostring', 'setmetatable', 'next', 'assert',
    'tonumber', 'rawequal', 'collectgarbage', 'getmetatable', 'rawset', 'type', 'select',
    'unpack', 'gcinfo', 'pairs', 'rawget', 'loadstring', 'ipairs', '_VERSION',
    'load', 'error'}) do
    visible[name] = G[name]
end
-- lua-enable-deprecated-api (Debian's 7.0.15): off, scripts do not see these.
if hooks.deprecated_api then
    visible.getfenv, visible.setfenv, visible.newproxy = G.getfenv, G.setfenv, G.newproxy
end
visible.pcall = redis_pcall
-- Redis's Lua parses every chunk as text (its loader has no undump): a
-- precompiled chunk (string.dump) fails to parse on its first byte,
-- ESC. A blank before it keeps that error (same line, same token) and
-- the chunk's name is the one the text would have had.
do
    local loadstring, load = G.loadstring, G.load
    visible.loadstring = function(s, ...)
        if type(s) == 'string' and ssub(s, 1, 1) == '\27' then
            local name = ...
            local f, e = loadstring(' ' .. s, name or s)
            return f, e
        end
        local f, e = loadstring(s, ...)
        return f, e
    end
    visible.load = function(reader, ...)
        local first = true
        local pieces = type(reader) ~= 'function' and reader or function()
            local piece = reader()
            if first and type(piece) == 'string' and piece ~= '' then
                first = false
                if ssub(piece, 1, 1) == '\27' then piece = ' ' .. piece end
            end
            return piece
        end
        local f, e = load(pieces, ...)
        return f, e
    end
end
for _, name in ipairs({'string', 'math', 'table', 'coroutine', 'bit', 'cjson', 'struct', 'cmsgpack'}) do
    if G[name] then visible[name] = readonly(G[name]) end
end
visible.redis = readonly(redis)
-- Strings' methods come from the read-only view too.
getmetatable('').__index = visible.string
local env = setmetatable({}, {
    __index = function(_, k)
        local v = env_vars[k]
        if v ~= nil then return v end
        v = visible[k]
        if v == nil then
            error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
        end
        return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
})
visible._G = env
hooks.env = env
debug = nil
