/**
 * The gate's one Redis round trip: a Lua script over keys of one hash-tag slot (`kc:{agentId}:...`) that
 * decides a request from the state documented in proxy/store/agentState.ts and proxy/store/denyKey.ts.
 *
 * Order of checks (first failure wins):
 *   1. the credential exists                       else INVALID_CREDENTIAL (reveals nothing else)
 *   2. deny key                                    AGENT_KILLED / AGENT_SUSPENDED / ATTESTATION_REVOKED
 *   3. attestation expired (flags.expiresAt)       ATTESTATION_EXPIRED (Redis TIME is read only when it is set)
 *   4. credential revoked, or issued before cutoff CREDENTIAL_REVOKED
 *   5. Tier 2 (flags.agent == "0")                 AGENT_DISABLED
 *   6. Tier 1 (flags["provider:<name>"] == "0")    PROVIDER_DISABLED
 *   7. guardrails, all-providers scope "*" then the provider's scope:
 *        spend today >= usd limit                  BUDGET_EXCEEDED
 *        requests this minute / day + 1 > limit    RATE_LIMITED
 *      A breach trips the scope's configured action ("tier1": this provider, "tier2": the agent) by writing
 *      the flag and `tripped:<flag field>` (JSON: why) into the flags hash, once.
 *   8. otherwise OK. When the agent has a request limit (rpm or rpd, either scope) the request counters are
 *      incremented here (same script, so exactly N of N+M concurrent requests pass a limit of N) and the
 *      reply is {"OK"}. Without one, nothing depends on the counters being exact this instant: the reply is
 *      {"OK", "U"} (uncounted) and the proxy adds the request to its usage meter, which writes the counts with
 *      the spend (meterLua) within a flush interval. That keeps 4 INCRs off every request of agents
 *      without request limits (bench: about a third of the script's Redis time); an agent with no
 *      guardrails at all costs an EXISTS instead of an 8-field HMGET (another ~11% of it).
 * With ARGV[2] = "0" the script authenticates and checks 1-6 but neither checks nor counts guardrails (used
 * when the provider connection does not exist, so a 404 does not spend the agent's rate).
 *
 * KEYS: deny, flags, credential, guardrails, then the usage counters rpm, rpd, usd for "*" and for the provider.
 * ARGV: provider, count ("1"/"0"), minute-counter TTL ms, day-counter TTL ms, and "provider:<p>" (the Tier 1
 * field, read on every call; the guardrail field names are built only for agents that have guardrails).
 * Nothing in a call depends on the clock beyond the counter names, so the client can reuse one encoded
 * command per minute.
 * Reply: {"OK"} | {"OK", "U"} | {code} | {"DENY", code, state} | {code, scope, kind, limit, value, action, tripped}.
 */
export const gateLua = `
local cred = redis.call('HMGET', KEYS[3], 'issuedAt', 'revokedAt')
if not cred[1] then return {'INVALID_CREDENTIAL'} end
local deny = redis.call('GET', KEYS[1])
if deny then
  local ok, rec = pcall(cjson.decode, deny)
  if ok and type(rec) == 'table' then return {'DENY', tostring(rec.code), tostring(rec.state)} end
  -- An unreadable deny key still denies: fail closed.
  return {'DENY', 'AGENT_KILLED', 'killed'}
end
local flags = redis.call('HMGET', KEYS[2], 'agent', ARGV[5], 'cutoff', 'expiresAt')
if flags[4] then
  -- An unreadable expiry counts as past: fail closed.
  local t = redis.call('TIME')
  if t[1] * 1000 + math.floor(t[2] / 1000) >= (tonumber(flags[4]) or 0) then return {'ATTESTATION_EXPIRED'} end
end
if cred[2] then return {'CREDENTIAL_REVOKED'} end
if flags[3] then
  local cutoff = tonumber(flags[3]) or math.huge
  local issued = tonumber(cred[1]) or 0
  if issued < cutoff then return {'CREDENTIAL_REVOKED'} end
end
if flags[1] == '0' then return {'AGENT_DISABLED'} end
if flags[2] == '0' then return {'PROVIDER_DISABLED'} end
if ARGV[2] ~= '1' then return {'OK'} end

if redis.call('EXISTS', KEYS[4]) == 0 then return {'OK', 'U'} end
local p = ARGV[1]
local g = redis.call('HMGET', KEYS[4], '*:rpm', '*:rpd', '*:usd', '*:action', p .. ':rpm', p .. ':rpd', p .. ':usd', p .. ':action')
-- Request limits (rpm, rpd in either scope) need the exact count taken here; spend limits do not.
local requestLimit = g[1] or g[2] or g[5] or g[6]
if not (requestLimit or g[3] or g[7]) then return {'OK', 'U'} end
local function breach(code, scope, kind, lim, value, action)
  local field = nil
  if action == 'tier2' then field = 'agent' elseif action == 'tier1' then field = ARGV[5] end
  local tripped = 0
  if field and redis.call('HGET', KEYS[2], field) ~= '0' then
    local t = redis.call('TIME')
    local why = cjson.encode({by = 'guardrail', code = code, scope = scope, kind = kind, limit = lim, value = value, at = t[1] * 1000 + math.floor(t[2] / 1000)})
    redis.call('HSET', KEYS[2], field, '0', 'tripped:' .. field, why)
    tripped = 1
  end
  return {code, scope, kind, tostring(lim), tostring(value), action or '', tripped}
end
for s = 0, 1 do
  local scope = '*'
  if s == 1 then scope = p end
  -- A limit that is present but unreadable counts as 0 (deny): fail closed.
  local rpm, rpd, usd, action = g[s * 4 + 1], g[s * 4 + 2], g[s * 4 + 3], g[s * 4 + 4]
  local k = 5 + s * 3
  if usd then
    usd = tonumber(usd) or 0
    local spent = tonumber(redis.call('GET', KEYS[k + 2]) or '0') or 0
    if spent >= usd then return breach('BUDGET_EXCEEDED', scope, 'usd', usd, spent, action) end
  end
  if rpm then
    rpm = tonumber(rpm) or 0
    local n = tonumber(redis.call('GET', KEYS[k]) or '0') or 0
    if n + 1 > rpm then return breach('RATE_LIMITED', scope, 'rpm', rpm, n, action) end
  end
  if rpd then
    rpd = tonumber(rpd) or 0
    local n = tonumber(redis.call('GET', KEYS[k + 1]) or '0') or 0
    if n + 1 > rpd then return breach('RATE_LIMITED', scope, 'rpd', rpd, n, action) end
  end
end
if not requestLimit then return {'OK', 'U'} end
for _, c in ipairs({{KEYS[5], ARGV[3]}, {KEYS[6], ARGV[4]}, {KEYS[8], ARGV[3]}, {KEYS[9], ARGV[4]}}) do
  if redis.call('INCR', c[1]) == 1 then redis.call('PEXPIRE', c[1], c[2]) end
end
return {'OK'}
`;

/**
 * The usage meter's write (proxy/guardrails/usageMeter.ts), one call per agent and provider per flush:
 * - adds metered spend (micro-USD, may be 0) to today's counters, all-providers and per-provider, and trips
 *   the configured tier when this addition crosses a spend limit (once: only the crossing addition trips);
 * - adds the requests the gate left uncounted (agents without request limits) to the rpm/rpd counters.
 * KEYS: usd:*:<day>, usd:<provider>:<day>, guardrails, flags, rpm:*:<minute>, rpd:*:<day>, rpm:<provider>:<minute>,
 * rpd:<provider>:<day>. ARGV: micro-USD, provider, day TTL ms, now ms, requests, minute TTL ms.
 * Reply: {} | {"BUDGET_EXCEEDED", scope, "usd", limit, value, action, tripped}.
 */
export const meterLua = `
local requests = tonumber(ARGV[5]) or 0
if requests > 0 then
  for _, c in ipairs({{KEYS[5], ARGV[6]}, {KEYS[6], ARGV[3]}, {KEYS[7], ARGV[6]}, {KEYS[8], ARGV[3]}}) do
    if redis.call('INCRBY', c[1], requests) == requests then redis.call('PEXPIRE', c[1], c[2]) end
  end
end
local amount = tonumber(ARGV[1]) or 0
if amount <= 0 then return {} end
local p = ARGV[2]
local g = redis.call('HMGET', KEYS[3], '*:usd', '*:action', p .. ':usd', p .. ':action')
local result = {}
for s = 0, 1 do
  local key = KEYS[1 + s]
  local after = redis.call('INCRBY', key, amount)
  if after == amount then redis.call('PEXPIRE', key, ARGV[3]) end
  local lim = g[s * 2 + 1]
  if lim and #result == 0 then
    lim = tonumber(lim) or 0
    local before = after - amount
    if before < lim and after >= lim then
      local scope = '*'
      if s == 1 then scope = p end
      local action = g[s * 2 + 2]
      local field = nil
      if action == 'tier2' then field = 'agent' elseif action == 'tier1' then field = 'provider:' .. p end
      local tripped = 0
      if field and redis.call('HGET', KEYS[4], field) ~= '0' then
        local why = cjson.encode({by = 'guardrail', code = 'BUDGET_EXCEEDED', scope = scope, kind = 'usd', limit = lim, value = after, at = tonumber(ARGV[4])})
        redis.call('HSET', KEYS[4], field, '0', 'tripped:' .. field, why)
        tripped = 1
      end
      result = {'BUDGET_EXCEEDED', scope, 'usd', tostring(lim), tostring(after), action or '', tripped}
    end
  end
end
return result
`;
