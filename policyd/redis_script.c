/* The Lua script the Redis store runs once per request: the same sliding
 * window as shared/quota/window.c (one slot per sub-window, counting until
 * one period after its latest charge; all or nothing, the latest-freeing
 * window named), on Redis's own clock, so every daemon sharing the server
 * shares one exact count. */
#include "redis_store.h"

#include "quota/quota.h"

/* The script's constants are the C ones, spelled by the preprocessor, so
 * the two sliding windows cannot drift apart. */
#define PS_LUA_NUM_(x) #x
#define PS_LUA_NUM(x)  PS_LUA_NUM_(x)

/* KEYS: one hash per window, field = ms of the latest charge in a
 * sub-window, value = amount (a field of the first form names the
 * sub-window's index and is renamed on sight), field "w" = ms until which
 * the warn_at warning is not repeated.
 * ARGV: charge, warn_pct, deadline (ms on Redis's clock, 0 none), then
 * period_ms, limit, cost for each key.
 * Returns: over, item (1-based), frees_at (-1 never), now, used..., warn...;
 * or {-1}, untouched, when it runs after the deadline: the daemon has
 * answered store_down by then (a Redis that hung with the request queued),
 * and a deferred message must not be charged. */
/* One Lua line per C line, as written: */
/* clang-format off */
const char ps_redis_script[] =
    "local S = " PS_LUA_NUM(PS_QUOTA_SLOTS) "\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local charge, pct, n = tonumber(ARGV[1]), tonumber(ARGV[2]), #KEYS\n"
    "local deadline = tonumber(ARGV[3])\n"
    "if deadline > 0 and now > deadline then return {-1} end\n"
    "local function arg(i, k) return tonumber(ARGV[3 * i + k]) end\n"
    "local function idx(at, p)\n"
    "  return math.floor(at / p) * S + math.floor((at % p) * S / p)\n"
    "end\n"
    "local function start(j, p)\n"
    "  return math.floor(j / S) * p + math.floor(((j % S) * p + S - 1) / S)\n"
    "end\n"
    "local function ms(at) return string.format('%d', at) end\n"
    "local used, slots, warn = {}, {}, {}\n"
    "local over, worst, worst_at = 0, 0, 0\n"
    "local function frees(list, sum, limit, cost, p)\n"
    "  if cost > limit then return -1 end\n"
    "  local excess, acc = sum - (limit - cost), 0\n"
    "  for _, s in ipairs(list) do\n"
    "    acc = acc + s[2]\n"
    "    if acc >= excess then\n"
    "      local at = s[1] + p\n"
    "      if at < now then at = now end\n"
    "      return at\n"
    "    end\n"
    "  end\n"
    "  return -1\n"
    "end\n"
    "for i = 1, n do\n"
    "  local p, limit, cost = arg(i, 1), arg(i, 2), arg(i, 3)\n"
    "  local h = redis.call('HGETALL', KEYS[i])\n"
    "  local list, sum, stale = {}, 0, {}\n"
    "  for j = 1, #h, 2 do\n"
    "    if h[j] ~= 'w' then\n"
    "      local k, c = tonumber(h[j]), tonumber(h[j + 1])\n"
    "      if k <= idx(now, p) then\n"
    "        redis.call('HDEL', KEYS[i], h[j])\n"
    "        k = math.min(start(k + 1, p) - 1, now)\n"
    "        if k + p > now then redis.call('HINCRBY', KEYS[i], ms(k), c) end\n"
    "      end\n"
    "      if k + p <= now then stale[#stale + 1] = h[j]\n"
    "      else list[#list + 1] = {k, c}; sum = sum + c end\n"
    "    end\n"
    "  end\n"
    "  if #stale > 0 then redis.call('HDEL', KEYS[i], unpack(stale)) end\n"
    "  table.sort(list, function(a, b) return a[1] < b[1] end)\n"
    "  local merged = {}\n"
    "  for _, s in ipairs(list) do\n"
    "    local m = merged[#merged]\n"
    "    if m and m[1] == s[1] then m[2] = m[2] + s[2]\n"
    "    else merged[#merged + 1] = s end\n"
    "  end\n"
    "  list = merged\n"
    "  used[i], slots[i], warn[i] = sum, list, 0\n"
    "  if cost > limit or sum > limit - cost then\n"
    "    local at = frees(list, sum, limit, cost, p)\n"
    "    if over == 0 or at == -1 or (worst_at ~= -1 and at > worst_at) then\n"
    "      over, worst, worst_at = 1, i, at\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if over == 0 and charge == 1 then\n"
    "  for i = 1, n do\n"
    "    local p, limit, cost = arg(i, 1), arg(i, 2), arg(i, 3)\n"
    "    if cost > 0 then\n"
    "      local last = slots[i][#slots[i]]\n"
    "      if last and (idx(last[1], p) >= idx(now, p) or #slots[i] > S) then\n"
    "        local at = math.max(last[1], now)\n"
    "        redis.call('HDEL', KEYS[i], ms(last[1]))\n"
    "        redis.call('HSET', KEYS[i], ms(at), last[2] + cost)\n"
    "      else\n"
    "        redis.call('HINCRBY', KEYS[i], ms(now), cost)\n"
    "      end\n"
    "      redis.call('PEXPIRE', KEYS[i], p + 1000)\n"
    "      used[i] = used[i] + cost\n"
    "      if limit > 0 and pct > 0 and used[i] * 100 >= limit * pct then\n"
    "        local w = tonumber(redis.call('HGET', KEYS[i], 'w') or '0')\n"
    "        if now >= w then\n"
    "          redis.call('HSET', KEYS[i], 'w', ms(now + p))\n"
    "          warn[i] = 1\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {over, worst, worst_at, now}\n"
    "for i = 1, n do out[#out + 1] = used[i] end\n"
    "for i = 1, n do out[#out + 1] = warn[i] end\n"
    "return out\n";
/* clang-format on */
