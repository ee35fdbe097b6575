//! The Lua scripts behind the operations no single Redis command does: a write
//! conditional on the version, `incr` and `advance` on the entry layout of
//! [`crate::layout`].
//!
//! Every other operation is one plain command. Expiries computed here come from the
//! server's `TIME`, never from a client clock, and counter arithmetic is exact over the
//! whole 64-bit range even though Lua's numbers are doubles.

use crate::client::Script;

/// `set` if the entry's version matches. KEYS: the entry. ARGV: the expected mark and
/// version (9 bytes), the new stored form, the TTL in ms (empty: none).
/// Returns `1` when written; nil (absent) or the current stored form when rejected.
/// Reads only the 9 bytes it compares (`GETRANGE`), whatever the value's size.
pub(crate) const SET_IF_VERSION: &str = r#"
local key = KEYS[1]
if redis.call('GETRANGE', key, 0, 8) ~= ARGV[1] then
  return redis.call('GET', key)
end
if ARGV[3] == '' then
  redis.call('SET', key, ARGV[2])
else
  redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
end
return 1
"#;

/// `delete` if the version matches. ARGV: the expected mark and version (9 bytes).
/// Returns 1 if removed.
pub(crate) const DELETE_IF_VERSION: &str = r#"
if redis.call('GETRANGE', KEYS[1], 0, 8) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// `incr`. KEYS: the counter. ARGV: delta (decimal), the new version (8 bytes), TTL in ms
/// (empty: none), applied only when the call creates the counter.
/// Returns the counter's new stored form (header and decimal value, so the reply needs
/// no separate fields), or an integer when nothing changed: `0` the value is not a
/// canonical 64-bit decimal (Redis's own rule for `INCRBY`), `1` overflow, `2` not a
/// fleetstate entry.
///
/// Two calls in the steady state (`GET`, `SET … KEEPTTL`) and as little Lua as will do:
/// values and deltas of at most 15 characters are added as doubles, exactly; longer ones
/// as two exact parts, the digits above and below 10^9, so no 64-bit value is ever
/// rounded. The helpers of that second path are defined only on it: a closure built on
/// every call cost a measurable share of the script.
pub(crate) const INCR: &str = r#"
local key, delta = KEYS[1], ARGV[1]
local cur = redis.call('GET', key)
if not cur then
  local new
  if ARGV[3] == '' then
    new = '\1' .. ARGV[2] .. '\0\0\0\0\0\0\0\0' .. delta
    redis.call('SET', key, new)
  else
    local now = redis.call('TIME')
    local exp = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
    new = '\1' .. ARGV[2] .. struct.pack('>I4I4', math.floor(exp / 4294967296), exp % 4294967296) .. delta
    redis.call('SET', key, new, 'PXAT', string.format('%d', exp))
  end
  return new
end
if string.byte(cur, 1) ~= 1 or #cur < 17 then return 2 end
local body = string.sub(cur, 18)
local sum
if #body <= 15 and #delta <= 15 then
  if body ~= '0' and not string.find(body, '^%-?[1-9]%d*$') then return 0 end
  sum = string.format('%d', tonumber(body) + tonumber(delta))
else
  local B = 1000000000
  -- A canonical decimal as hi, lo: value = hi * 10^9 + lo, 0 <= lo < 10^9.
  local function split(s)
    if s ~= '0' and not string.find(s, '^%-?[1-9]%d*$') then return nil end
    local neg = string.byte(s, 1) == 45
    local digits = neg and string.sub(s, 2) or s
    if #digits > 19 then return nil end
    local hi = tonumber(string.sub(digits, 1, -10)) or 0
    local lo = tonumber(string.sub(digits, -9))
    if neg then hi, lo = -hi, -lo end
    local carry = math.floor(lo / B)
    return hi + carry, lo - carry * B
  end
  local function in_range(hi, lo)
    if hi > 9223372036 or (hi == 9223372036 and lo > 854775807) then return false end
    return hi > -9223372037 or (hi == -9223372037 and lo >= 145224192)
  end
  local bh, bl = split(body)
  if bh == nil or not in_range(bh, bl) then return 0 end
  local dh, dl = split(delta)
  local hi, lo = bh + dh, bl + dl
  local carry = math.floor(lo / B)
  hi, lo = hi + carry, lo - carry * B
  if not in_range(hi, lo) then return 1 end
  if hi == 0 then sum = string.format('%d', lo)
  elseif hi > 0 then sum = string.format('%d%09d', hi, lo)
  elseif lo == 0 then sum = string.format('-%d000000000', -hi)
  elseif hi == -1 then sum = string.format('-%d', B - lo)
  else sum = string.format('-%d%09d', -hi - 1, B - lo) end
end
local new = '\1' .. ARGV[2] .. string.sub(cur, 10, 17) .. sum
redis.call('SET', key, new, 'KEEPTTL')
return new
"#;

/// `advance` (see `store_core::Advance`). KEYS: the entry. ARGV: delta, headroom, floor
/// (decimal; empty: the server's `TIME` in µs), the new version (8 bytes), TTL in ms
/// (empty: none), set on every write.
/// Returns `{written (0/1), value, floor}` as integers, or an integer when nothing
/// changed: `0` the value is not the canonical decimal of a non-negative integer, `2`
/// not a fleetstate entry, `3` a number past 2^53 (Lua's exact range).
///
/// Every number stays at or below 2^53, where doubles are exact: the client checks a
/// fixed floor and the headroom it sends, the script the stored value and the sums.
/// Lua numbers go back as integer replies (exact in that range), so formatting is
/// only for what is stored, with `%d` (a C `long`, 64 bits here; `%.0f` measured twice
/// as slow). `TIME` is read once at most: a clock floor's reading also dates the expiry.
/// With the `%.0f` formats and string replies this script cost 9.3-14 µs of server time
/// per call under `redis-benchmark` at 32 connections, this one 7.9-8.7 µs (the `incr`
/// script: 5.9-6.9 µs).
pub(crate) const ADVANCE: &str = r#"
local key = KEYS[1]
local limit = 9007199254740992
local now_ms
local floor
if ARGV[3] == '' then
  local t = redis.call('TIME')
  floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  now_ms = math.floor(floor / 1000)
else
  floor = tonumber(ARGV[3])
end
local start = floor
local cur = redis.call('GET', key)
if cur then
  if string.byte(cur, 1) ~= 1 or #cur < 17 then return 2 end
  local body = string.sub(cur, 18)
  if body ~= '0' and not string.find(body, '^[1-9]%d*$') then return 0 end
  if #body > 16 then return 3 end
  local value = tonumber(body)
  if value > limit then return 3 end
  if value > start then start = value end
end
local new = start + tonumber(ARGV[1])
if new > floor + tonumber(ARGV[2]) then
  return {0, start, floor}
end
if new > limit then return 3 end
local text = string.format('%d', new)
if ARGV[5] == '' then
  redis.call('SET', key, '\1' .. ARGV[4] .. '\0\0\0\0\0\0\0\0' .. text)
else
  if not now_ms then
    local t = redis.call('TIME')
    now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local exp = now_ms + tonumber(ARGV[5])
  local header = struct.pack('>I4I4', math.floor(exp / 4294967296), exp % 4294967296)
  redis.call('SET', key, '\1' .. ARGV[4] .. header .. text, 'PXAT', string.format('%d', exp))
end
return {1, new, floor}
"#;

/// The scripts, hashed once.
#[derive(Debug, Clone)]
pub(crate) struct Scripts {
    pub(crate) set_if_version: Script,
    pub(crate) incr: Script,
    pub(crate) delete_if_version: Script,
    pub(crate) advance: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            set_if_version: Script::new(SET_IF_VERSION),
            incr: Script::new(INCR),
            delete_if_version: Script::new(DELETE_IF_VERSION),
            advance: Script::new(ADVANCE),
        }
    }
}
