"""The Lua scripts behind every desk state change (``bot.desk.conversations``).

Each one re-checks, inside Redis, the state its caller expects (status,
assigned agent), so two replicas never both win a claim or a close.
"""
# KEYS: open, conv, queue, all, department queue. ARGV: id, queue score, now, field/value pairs...
OPEN = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return {ARGV[1], 1}
"""
# KEYS: conv, queue, active, agent set, stats:wait, department queue.
# ARGV: id, agent, now, the department the caller read (moved meanwhile: 'moved'),
#       the agent's capacity or '' (at it: 'full'; automatic assignment only)
CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status ~= 'queue' then return {status, redis.call('HGET', KEYS[1], 'agent') or ''} end
if (redis.call('HGET', KEYS[1], 'department') or '') ~= ARGV[4] then return {'moved', ''} end
if ARGV[5] ~= '' and redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[5]) then return {'full', ''} end
local waited = tonumber(ARGV[3]) - tonumber(redis.call('HGET', KEYS[1], 'created_at'))
redis.call('HSET', KEYS[1], 'status', 'in_progress', 'agent', ARGV[2], 'claimed_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], string.format('%.3f', waited) .. ':' .. ARGV[1])
return {'ok', ARGV[2]}
"""
# KEYS: conv, transfers, old agent set, new agent set. ARGV: id, from, to, entry
TRANSFER = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'in_progress' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then
  return 'changed'
end
redis.call('HSET', KEYS[1], 'agent', ARGV[3])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[4])
return 'ok'
"""
# KEYS: conv, queue, active, agent set, old department queue, new department queue, transfers
# ARGV: id, expected status, expected agent, expected department, new department, queue score, entry
# Back to a queue (the same department or another), keeping its place by age.
REQUEUE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= ARGV[2] or (redis.call('HGET', KEYS[1], 'agent') or '') ~= ARGV[3]
   or (redis.call('HGET', KEYS[1], 'department') or '') ~= ARGV[4] then
  return 'changed'
end
redis.call('HSET', KEYS[1], 'status', 'queue', 'agent', '', 'claimed_at', '', 'department', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[1])
redis.call('RPUSH', KEYS[7], ARGV[7])
return 'ok'
"""
# KEYS: conv, queue, active, agent set, open, transfers, messages, all,
#       stats:wait, stats:handling, stats:resolved, stats:csat, department queue, labels, notes
# ARGV: id, expected status, expected agent, new status, resolution, notes,
#       closed_by, now, retention seconds, expected department
CLOSE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= ARGV[2] or (redis.call('HGET', KEYS[1], 'agent') or '') ~= ARGV[3]
   or (redis.call('HGET', KEYS[1], 'department') or '') ~= ARGV[10] then
  return 'changed'
end
local now = tonumber(ARGV[8])
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'resolution', ARGV[5], 'notes', ARGV[6],
           'closed_by', ARGV[7], 'closed_at', ARGV[8])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[13], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
local claimed = redis.call('HGET', KEYS[1], 'claimed_at')
if claimed and claimed ~= '' then
  redis.call('ZADD', KEYS[10], now, string.format('%.3f', now - tonumber(claimed)) .. ':' .. ARGV[1])
end
if ARGV[4] == 'resolved' then redis.call('ZADD', KEYS[11], now, ARGV[1]) end
local keep = tonumber(ARGV[9])
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[6], keep)
redis.call('EXPIRE', KEYS[7], keep)
redis.call('EXPIRE', KEYS[14], keep)
redis.call('EXPIRE', KEYS[15], keep)
for i = 8, 12 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - keep) end
return 'ok'
"""
# KEYS: conv, stats:csat. ARGV: id, score, now
CSAT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'resolved' and status ~= 'closed' then return 'open' end
if redis.call('HSETNX', KEYS[1], 'csat', ARGV[2]) == 0 then return 'rated' end
redis.call('HSET', KEYS[1], 'csat_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2] .. ':' .. ARGV[1])
return 'ok'
"""
# KEYS: conv, messages. ARGV: entry, field, now, max entries
MESSAGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if ARGV[2] == 'last_agent_message_at' then redis.call('HSETNX', KEYS[1], 'first_agent_message_at', ARGV[3]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
"""

