// SPDX-License-Identifier: GPL-2.0
/*
 * The Lua scripts the Redis backend runs (EVALSHA, EVAL on NOSCRIPT).
 * Redis runs a script atomically: nothing else happens between its reads
 * and its writes. Each protects one invariant (docs/ARCHITECTURE.md,
 * "Several servers", lists them with the test that shows each):
 *  LEASE     one index per device and one device per index, across all
 *            servers; at most max_devices live leases per user.
 *  ONLINE    one session per device: the last login owns the online
 *            record; the lease must still be the device's.
 *  HEARTBEAT a server refreshes only what it still owns, and learns what
 *            it lost.
 *  OFFLINE   a server deletes an online record only if it is its own.
 *  CANDS     a server writes a device's candidates only into a record it
 *            owns (issue 20), and tells the others through the feed.
 *  CHECK     (reads only) the online records of other servers' devices
 *            and their candidates versions, for the periodic check.
 *
 * Keys (P = [cluster] prefix): P:lk:<user@realm/device> -> index,
 * P:li:<index> -> device, P:lhwm (highest index handed out), P:u:<user@realm>
 * (set of its devices), P:d:<index> (hash: key pub ep port srv sid cands
 * cv: the candidates' version, counted up by each CANDS),
 * P:on:<index> -> "<server> <session>", P:srv:<server>, P:v:<pair> (the
 * policy's decision), P:feed (stream of changes). The scripts read every
 * value defensively (another writer, an operator or an attacker with Redis
 * access may have put anything there): a value of the wrong type, size or
 * form is reported as {4, why}, never used, and never crashes the server.
 *
 * Must not hold C logic: the calls and the parsing of replies are
 * redis_state.c's and feed.c's.
 */
#include "cluster_int.h"

#define LUA_HELPERS \
	"local p = ARGV[1]\n" \
	"local function get(k)\n" \
	"  local v = redis.pcall('GET', k)\n" \
	"  if type(v) == 'table' and v.err then return nil, k .. ' is not a string' end\n" \
	"  if v and #v > 1100 then return nil, k .. ' holds ' .. #v .. ' bytes' end\n" \
	"  return v or nil\n" \
	"end\n" \
	"local function failed(r) return type(r) == 'table' and r.err ~= nil end\n"

/* ARGV: prefix device user max_idx max_devices ttl_s
 * -> {0, index, new} | {1, 0} pool full | {2, have} too many | {4, why} */
static const char lease_lua[] = LUA_HELPERS
	"local dk, uk = ARGV[2], ARGV[3]\n"
	"local max_idx, maxdev, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
	"local v, e = get(p .. ':lk:' .. dk)\n"
	"if e then return {4, e} end\n"
	"if v then\n"
	"  if #v > 10 or not v:match('^[0-9]+$') then\n"
	"    return {4, 'the lease of ' .. dk .. ' is not an index'} end\n"
	"  local n = tonumber(v)\n"
	"  if n < 1 or n > max_idx then return {4, 'the lease of ' .. dk .. ' is outside the pool'} end\n"
	"  local back, e2 = get(p .. ':li:' .. n)\n"
	"  if e2 then return {4, e2} end\n"
	"  if back and back ~= dk then return {4, 'index ' .. n .. ' is leased to another device'} end\n"
	"  redis.call('SET', p .. ':lk:' .. dk, n, 'EX', ttl)\n"
	"  redis.call('SET', p .. ':li:' .. n, dk, 'EX', ttl)\n"
	"  if failed(redis.pcall('SADD', p .. ':u:' .. uk, dk)) then redis.call('DEL', p .. ':u:' .. uk) end\n"
	"  redis.call('EXPIRE', p .. ':u:' .. uk, ttl)\n"
	"  return {0, n, 0}\n"
	"end\n"
	"if maxdev > 0 then\n"
	"  local have = 0\n"
	"  local m = redis.pcall('SMEMBERS', p .. ':u:' .. uk)\n"
	"  if failed(m) then redis.call('DEL', p .. ':u:' .. uk); m = {} end\n"
	"  for _, d in ipairs(m) do\n"
	"    if redis.call('EXISTS', p .. ':lk:' .. d) == 1 then have = have + 1\n"
	"    else redis.call('SREM', p .. ':u:' .. uk, d) end\n"
	"  end\n"
	"  if have >= maxdev then return {2, have} end\n"
	"end\n"
	"local function take(i) return redis.call('SET', p .. ':li:' .. i, dk, 'NX', 'EX', ttl) end\n"
	"local h = get(p .. ':lhwm')\n"
	"local hwm = tonumber(h and h:match('^[0-9]+$') and h or '0')\n"
	"if hwm > max_idx then hwm = max_idx end\n"
	"local n\n"
	"while not n and hwm < max_idx do hwm = hwm + 1; if take(hwm) then n = hwm end end\n"
	"redis.call('SET', p .. ':lhwm', hwm)\n"
	"if not n then\n"
	"  for i = 1, max_idx do if take(i) then n = i; break end end\n"
	"end\n"
	"if not n then return {1, 0} end\n"
	"redis.call('SET', p .. ':lk:' .. dk, n, 'EX', ttl)\n"
	"if failed(redis.pcall('SADD', p .. ':u:' .. uk, dk)) then\n"
	"  redis.call('DEL', p .. ':u:' .. uk); redis.call('SADD', p .. ':u:' .. uk, dk) end\n"
	"redis.call('EXPIRE', p .. ':u:' .. uk, ttl)\n"
	"return {0, n, 1}\n";

/* ARGV: prefix index device server session ttl_ms pub ep_ip ep_port
 * -> {0, previous owner, previous pub, feed entry id} | {4, why} */
static const char online_lua[] = LUA_HELPERS
	"local idx, dk, srv, sid = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
	"local back, e = get(p .. ':li:' .. idx)\n"
	"if e then return {4, e} end\n"
	"if back ~= dk then return {4, 'index ' .. idx .. ' is no longer leased to ' .. dk} end\n"
	"local owner = get(p .. ':on:' .. idx) or ''\n"
	"local old = redis.pcall('HGET', p .. ':d:' .. idx, 'pub')\n"
	"if type(old) ~= 'string' or #old > 64 then old = '' end\n"
	"local okey = redis.pcall('HGET', p .. ':d:' .. idx, 'key')\n"
	"if okey ~= dk then old = '' end\n"
	"local pub = ARGV[7]\n"
	"if pub == '' then pub = old end\n"
	"redis.call('SET', p .. ':on:' .. idx, srv .. ' ' .. sid, 'PX', ARGV[6])\n"
	"redis.call('DEL', p .. ':d:' .. idx)\n"
	"redis.call('HSET', p .. ':d:' .. idx, 'key', dk, 'pub', pub, 'ep', ARGV[8],\n"
	"           'port', ARGV[9], 'srv', srv, 'sid', sid)\n"
	"if redis.call('TYPE', p .. ':feed').ok ~= 'stream' then redis.call('DEL', p .. ':feed') end\n"
	"local id = redis.call('XADD', p .. ':feed', 'MAXLEN', '~', 10000, '*', 't', 'on',\n"
	"                     'i', idx, 's', srv, 'sid', sid)\n"
	"return {0, owner, old, id}\n";

/* ARGV: prefix server ttl_ms lease_ttl_s {index session device}...
 * -> {index, session, owner now, ...} for each no longer ours */
static const char heartbeat_lua[] = LUA_HELPERS
	"local srv, ttl, lttl = ARGV[2], ARGV[3], ARGV[4]\n"
	"local lost = {}\n"
	"for i = 5, #ARGV - 2, 3 do\n"
	"  local idx, sid, dk = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
	"  local v = get(p .. ':on:' .. idx)\n"
	"  if v == srv .. ' ' .. sid then\n"
	"    redis.call('PEXPIRE', p .. ':on:' .. idx, ttl)\n"
	"    redis.call('EXPIRE', p .. ':li:' .. idx, lttl)\n"
	"    redis.call('EXPIRE', p .. ':lk:' .. dk, lttl)\n"
	"  else\n"
	"    lost[#lost + 1] = idx; lost[#lost + 1] = sid\n"
	"    lost[#lost + 1] = type(v) == 'string' and v:sub(1, 100) or ''\n"
	"  end\n"
	"end\n"
	"redis.call('SET', p .. ':srv:' .. srv, '1', 'PX', ttl)\n"
	"return lost\n";

/* ARGV: prefix index server session -> 1 deleted, 0 not ours */
static const char offline_lua[] = LUA_HELPERS
	"local idx, srv, sid = ARGV[2], ARGV[3], ARGV[4]\n"
	"if get(p .. ':on:' .. idx) ~= srv .. ' ' .. sid then return 0 end\n"
	"redis.call('DEL', p .. ':on:' .. idx)\n"
	"redis.pcall('HDEL', p .. ':d:' .. idx, 'srv', 'sid')\n"
	"if redis.call('TYPE', p .. ':feed').ok ~= 'stream' then redis.call('DEL', p .. ':feed') end\n"
	"redis.call('XADD', p .. ':feed', 'MAXLEN', '~', 10000, '*', 't', 'off', 'i', idx,\n"
	"           's', srv, 'sid', sid)\n"
	"return 1\n";

/* ARGV: prefix index server session cands -> 1 written, 0 not ours
 * (cv counts up, so that a server that missed the "cd" entry sees the
 * change at its next check, CHECK below) */
static const char cands_lua[] = LUA_HELPERS
	"local idx, srv, sid = ARGV[2], ARGV[3], ARGV[4]\n"
	"if get(p .. ':on:' .. idx) ~= srv .. ' ' .. sid then return 0 end\n"
	"if redis.call('TYPE', p .. ':d:' .. idx).ok ~= 'hash' then return 0 end\n"
	"redis.call('HSET', p .. ':d:' .. idx, 'cands', ARGV[5])\n"
	"if failed(redis.pcall('HINCRBY', p .. ':d:' .. idx, 'cv', 1)) then\n"
	"  redis.call('HSET', p .. ':d:' .. idx, 'cv', 1) end\n"
	"if redis.call('TYPE', p .. ':feed').ok ~= 'stream' then redis.call('DEL', p .. ':feed') end\n"
	"redis.call('XADD', p .. ':feed', 'MAXLEN', '~', 10000, '*', 't', 'cd', 'i', idx,\n"
	"           's', srv, 'sid', sid)\n"
	"return 1\n";

/* ARGV: prefix index... -> {online record, candidates version}... one pair
 * per index ("" for none or a value of the wrong type; cut to 101 and 20
 * bytes: the caller refuses what is too long) */
static const char check_lua[] = LUA_HELPERS
	"local out = {}\n"
	"for i = 2, #ARGV do\n"
	"  local v = redis.pcall('GET', p .. ':on:' .. ARGV[i])\n"
	"  local cv = redis.pcall('HGET', p .. ':d:' .. ARGV[i], 'cv')\n"
	"  out[#out + 1] = type(v) == 'string' and v:sub(1, 101) or ''\n"
	"  out[#out + 1] = type(cv) == 'string' and cv:sub(1, 20) or ''\n"
	"end\n"
	"return out\n";

const char *const jz_scripts[JZ_SC_N] = {
	[JZ_SC_LEASE] = lease_lua,
	[JZ_SC_ONLINE] = online_lua,
	[JZ_SC_HEARTBEAT] = heartbeat_lua,
	[JZ_SC_OFFLINE] = offline_lua,
	[JZ_SC_CANDS] = cands_lua,
	[JZ_SC_CHECK] = check_lua,
};
