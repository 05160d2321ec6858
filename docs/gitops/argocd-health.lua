-- Argo CD health check for lambda.esm-controller.dev/EventSourceMapping.
--
-- esm-controller writes kstatus-style conditions (Ready, Reconciling, Stalled, Suspended) and
-- status.observedGeneration. This maps them to Argo CD health:
--   * no status yet, or a status for an older generation  -> Progressing
--   * being deleted (the controller waits for Lambda)      -> Progressing
--   * spec.suspend: true and a Suspended=True condition   -> Suspended, with Ready's message
--                                                             if still Ready for this spec,
--                                                             else Stalled's (reason Suspended)
--   * Stalled=True (Conflict, DisabledByLambda, InvalidParameter, AccessDenied, ...)
--                                                          -> Degraded, with Stalled's message
--   * Ready=True (also Observed, DriftIgnored)            -> Healthy
--   * anything else (Creating, Updating, Waiting, Retrying) -> Progressing, with the
--                                                             Reconciling or Ready message
-- Written for Lua 5.1 (Argo CD runs gopher-lua); tested with lua5.1 and lua5.4 by
-- tests/packaging/test_argocd_health.lua. Install it with argocd-cm-snippet.yaml.
local hs = {}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  elseif message ~= "" then
    return message
  elseif reason ~= "" then
    return reason
  end
  return fallback
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: waiting for the controller to remove the Lambda mapping"
  return hs
end

-- spec.suspend: true, and the controller has said so (a Suspended=True condition). Checked
-- before the generation: a suspended resource waits for no controller, whatever its status
-- says. Argo CD shows it Suspended (as it does a suspended CronJob), neither Progressing for
-- ever nor Degraded. A Suspended condition left from before spec.suspend went back to false
-- is ignored (the generation check below then waits for the controller).
local suspended = nil
if obj.status ~= nil and obj.status.conditions ~= nil and obj.spec ~= nil and obj.spec.suspend == true then
  suspended = condition(obj.status.conditions, "Suspended")
end
if suspended ~= nil and suspended.status == "True" then
  local ready = condition(obj.status.conditions, "Ready")
  local stalled = condition(obj.status.conditions, "Stalled")
  hs.status = "Suspended"
  if ready ~= nil and ready.status == "True" then
    hs.message = "Suspended, Ready for this spec: " .. describe(ready, "Ready")
  elseif stalled ~= nil and stalled.status == "True" then
    hs.message = describe(stalled, describe(suspended, "Suspended"))
  else
    hs.message = describe(suspended, "Suspended")
  end
  return hs
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for esm-controller to report a status"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = status.observedGeneration
local ready = condition(status.conditions, "Ready")
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for esm-controller to observe generation %d", generation)
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, describe(ready, "Stalled"))
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

local reconciling = condition(status.conditions, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling, describe(ready, "Reconciling"))
else
  hs.message = describe(ready, "Reconciling")
end
return hs
