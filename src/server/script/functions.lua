-- Shardis's function libraries (Redis 7.0's function_lua.c, rewritten):
-- the globals a library's code and its functions see, and
-- redis.register_function. Run once per Lua state after the prelude;
-- gets the Rust hooks table.
local hooks = ...
local error, type, tostring, setmetatable, rawpcall, select, pairs, lower =
    error, type, tostring, setmetatable, pcall, select, pairs, string.lower
local mkerr = hooks.mkerr

local function nonexistent(k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end
local function readonly_error()
    error('Attempt to modify a readonly table', 2)
end

-- A read-only view of `t` whose missing fields raise, as Redis's
-- protected tables do.
local function protected(t)
    return setmetatable({}, {
        __index = function(_, k)
            local v = t[k]
            if v == nil then nonexistent(k) end
            return v
        end,
        __newindex = readonly_error,
        __metatable = false,
    })
end

-- The library being loaded (FUNCTION LOAD, or a thread loading a library
-- it has not run yet): its registrations; nil at any other time.
local loading = nil

local flag_names = {
    ['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
    ['no-cluster'] = true, ['allow-cross-slot-keys'] = true,
}

local function fail(msg) error(mkerr(msg)) end

local function is_string(v) return type(v) == 'string' or type(v) == 'number' end

local function read_flags(t)
    local flags = {}
    local j = 1
    while true do
        local f = t[j]
        if f == nil then break end
        if not is_string(f) then return nil end
        f = lower(tostring(f))
        if not flag_names[f] then return nil end
        flags[#flags + 1] = f
        j = j + 1
    end
    return flags
end

local function register(...)
    if loading == nil then
        fail('redis.register_function can only be called on FUNCTION LOAD command')
    end
    local n = select('#', ...)
    if n < 1 or n > 2 then fail('wrong number of arguments to redis.register_function') end
    local name, callback, desc, flags
    if n == 1 then
        local args = ...
        if type(args) ~= 'table' then
            fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
        end
        flags = {}
        for k, v in pairs(args) do
            if not is_string(k) then
                fail('named argument key given to redis.register_function is not a string')
            end
            local key = lower(tostring(k))
            if key == 'function_name' then
                if not is_string(v) then
                    fail('function_name argument given to redis.register_function must be a string')
                end
                name = tostring(v)
            elseif key == 'description' then
                if not is_string(v) then
                    fail('description argument given to redis.register_function must be a string')
                end
                desc = tostring(v)
            elseif key == 'callback' then
                if type(v) ~= 'function' then
                    fail('callback argument given to redis.register_function must be a function')
                end
                callback = v
            elseif key == 'flags' then
                if type(v) ~= 'table' then
                    fail('flags argument to redis.register_function must be a table representing function flags')
                end
                flags = read_flags(v)
                if flags == nil then fail('unknown flag given') end
            else
                fail('unknown argument given to redis.register_function')
            end
        end
        if name == nil then fail('redis.register_function must get a function name argument') end
        if callback == nil then fail('redis.register_function must get a callback argument') end
    else
        local a, b = ...
        if not is_string(a) then fail('first argument to redis.register_function must be a string') end
        if type(b) ~= 'function' then
            fail('second argument to redis.register_function must be a function')
        end
        name, callback, flags = tostring(a), b, {}
    end
    if name == '' or name:find('[^%w_]') then
        fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
    end
    if loading.by_name[name] then fail('Function already exists in the library') end
    loading.by_name[name] = true
    local list = loading.list
    list[#list + 1] = {name = name, callback = callback, desc = desc, flags = flags}
end

-- What a library's code sees while it loads: `redis` with only
-- register_function, log and the version.
local env_redis = hooks.env.redis
local load_redis = {register_function = register, log = env_redis.log,
    LOG_DEBUG = env_redis.LOG_DEBUG, LOG_VERBOSE = env_redis.LOG_VERBOSE,
    LOG_NOTICE = env_redis.LOG_NOTICE, LOG_WARNING = env_redis.LOG_WARNING,
    REDIS_VERSION = env_redis.REDIS_VERSION, REDIS_VERSION_NUM = env_redis.REDIS_VERSION_NUM}
local load_api = {redis = protected(load_redis)}

-- A library's globals: while it loads, the load API; when its functions
-- run, what scripts see without KEYS and ARGV (arguments of functions).
local env = hooks.env
local function env_get(k) return env[k] end
local globals = setmetatable({}, {
    __index = function(_, k)
        if loading ~= nil then
            local v = load_api[k]
            if v == nil then nonexistent(k) end
            return v
        end
        if k == 'KEYS' or k == 'ARGV' then nonexistent(k) end
        local ok, v = rawpcall(env_get, k)
        if not ok then nonexistent(k) end
        return v
    end,
    __newindex = readonly_error,
})
hooks.fn_globals = globals

-- Runs a compiled library chunk; returns the registrations (a list of
-- {name, callback, desc, flags}) or false and the error.
function hooks.fn_load(chunk)
    loading = {list = {}, by_name = {}}
    local ok, err = rawpcall(chunk)
    local list = loading.list
    loading = nil
    if not ok then return false, err end
    return true, list
end

-- Calls a function with its two arguments under the error handler.
function hooks.fn_xpcall(f, handler, keys, args)
    return xpcall(function() return f(keys, args) end, handler)
end
