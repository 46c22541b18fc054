/**
 * The key pool's Redis scripts: picking a key and taking its lease is one script, so two
 * workers never both take a key's last slot; ending a lease records its outcome (counters,
 * the last 20 outcomes, a cooldown after a 429, disabling after repeated auth failures).
 */

/** Picks a usable key (not disabled, not cooling down, under its concurrency cap) by strategy and leases it. */
export const ACQUIRE = `
local base, now, cap, strategy, lease, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local n = #ARGV - 6
local best, bestLoad, earliest, busy = nil, nil, nil, false
local start = 0
if strategy == 'round-robin' then start = redis.call('INCR', base .. 'rr') end
for i = 0, n - 1 do
  local label = ARGV[((start + i) % n) + 7]
  local st = base .. 'state:' .. label
  if redis.call('HEXISTS', st, 'disabled') == 0 then
    local cd = tonumber(redis.call('HGET', st, 'cooldown_until') or '0')
    if cd > now then
      if not earliest or cd < earliest then earliest = cd end
    else
      local lk = base .. 'leases:' .. label
      redis.call('ZREMRANGEBYSCORE', lk, '-inf', now)
      local load = redis.call('ZCARD', lk)
      if load < cap then
        if strategy ~= 'least-loaded' then best = label break end
        if not bestLoad or load < bestLoad then best, bestLoad = label, load end
      else
        busy = true
      end
    end
  end
end
if best then
  local lk = base .. 'leases:' .. best
  redis.call('ZADD', lk, now + ttl, lease)
  redis.call('PEXPIRE', lk, ttl + 60000)
  return {'key', best}
end
if busy then return {'busy', '250'} end
if earliest then return {'wait', tostring(earliest - now)} end
return {'none', ''}`;

/** Ends a lease and records how the call went; returns 1 when the key was just disabled. */
export const RELEASE = `
local base, label, lease, outcome, now, cooldown, threshold = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local st = base .. 'state:' .. label
redis.call('ZREM', base .. 'leases:' .. label, lease)
if outcome == 'cancelled' then return 0 end
redis.call('HINCRBY', st, 'requests', 1)
local mark = 'o'
if outcome == 'ok' then
  redis.call('HINCRBY', st, 'successes', 1)
  redis.call('HSET', st, 'auth_failures', 0)
elseif outcome == 'rate_limited' then
  mark = 'r'
  redis.call('HINCRBY', st, 'rate_limited', 1)
  local cd = tonumber(redis.call('HGET', st, 'cooldown_until') or '0')
  if now + cooldown > cd then redis.call('HSET', st, 'cooldown_until', now + cooldown) end
else
  mark = 'e'
  redis.call('HINCRBY', st, 'errors', 1)
end
redis.call('LPUSH', base .. 'recent:' .. label, mark)
redis.call('LTRIM', base .. 'recent:' .. label, 0, 19)
if outcome == 'auth' then
  local f = redis.call('HINCRBY', st, 'auth_failures', 1)
  if f >= threshold and redis.call('HEXISTS', st, 'disabled') == 0 then
    redis.call('HSET', st, 'disabled', 'repeated authentication failures (401/403)')
    return 1
  end
end
return 0`;
