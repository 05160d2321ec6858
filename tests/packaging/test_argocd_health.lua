-- Tests docs/gitops/argocd-health.lua (the file shipped to users, loaded as is) against
-- EventSourceMapping objects shaped like the ones esm-controller writes: Ready, plus
-- Reconciling or Stalled while True, each with observedGeneration, plus
-- status.observedGeneration.
--
-- Usage: lua5.1 tests/packaging/test_argocd_health.lua docs/gitops/argocd-health.lua
--        (lua5.4 works too; Argo CD itself runs gopher-lua, a Lua 5.1.)
-- Prints one line per case and "N passed, N failed"; exits non-zero on any failure.

local script = arg[1] or "docs/gitops/argocd-health.lua"
local chunk, err = loadfile(script)
if chunk == nil then
  io.stderr:write("cannot load " .. script .. ": " .. tostring(err) .. "\n")
  os.exit(2)
end

-- The conditions the controller writes for a verdict ("ready", "progressing" or "stalled"),
-- like src/plan/report.rs: Ready always, and Reconciling or Stalled only while True, all with
-- the verdict's reason and message.
local function conditions(verdict, reason, message, generation)
  local function cond(kind, is_true)
    return {
      type = kind,
      status = is_true and "True" or "False",
      reason = reason,
      message = message,
      observedGeneration = generation,
      lastTransitionTime = "2026-11-21T10:00:00Z",
    }
  end
  local out = { cond("Ready", verdict == "ready") }
  if verdict == "progressing" then
    table.insert(out, cond("Reconciling", true))
  elseif verdict == "stalled" then
    table.insert(out, cond("Stalled", true))
  end
  return out
end

local function esm(generation, status, extra_metadata)
  local metadata = {
    name = "orders",
    namespace = "payments",
    generation = generation,
  }
  for k, v in pairs(extra_metadata or {}) do
    metadata[k] = v
  end
  return {
    apiVersion = "lambda.esm-controller.dev/v1alpha1",
    kind = "EventSourceMapping",
    metadata = metadata,
    spec = {
      eventSourceARN = "arn:aws:sqs:us-east-1:123456789012:orders",
      functionName = "order-handler",
    },
    status = status,
  }
end

local function status(verdict, reason, message, generation, fields)
  local s = {
    observedGeneration = generation,
    conditions = conditions(verdict, reason, message, generation),
  }
  for k, v in pairs(fields or {}) do
    s[k] = v
  end
  return s
end

local UUID = "6d1b2c3a-7f10-4e0e-9a51-3c2b8e1f0a42"

local SUSPENDED_MESSAGE = "spec.suspend is true: the controller makes no Lambda call for this resource; status shows the mapping as last seen"

-- A resource with spec.suspend: true, as src/controller/report.rs `suspended` writes it: the
-- Ready condition kept from the generation it was reached for (`ready_generation`), or, after
-- a spec change, the verdict "stalled" with reason Suspended; plus Suspended=True; and
-- status.observedGeneration at the current generation.
local function suspended_esm(generation, ready_generation, suspend)
  local conds
  if ready_generation ~= nil then
    conds = conditions("ready", "Enabled", "the mapping is Enabled and matches the spec", ready_generation)
  else
    conds = conditions("stalled", "Suspended", SUSPENDED_MESSAGE, generation)
  end
  table.insert(conds, {
    type = "Suspended", status = "True", reason = "Suspended", message = SUSPENDED_MESSAGE,
    observedGeneration = generation, lastTransitionTime = "2026-11-21T10:00:00Z",
  })
  local o = esm(generation, { observedGeneration = generation, conditions = conds, uuid = UUID, state = "Enabled" })
  o.spec.suspend = suspend
  return o
end

-- spec.suspend set back to false, the controller not there yet: the old status, Suspended
-- condition included, for an older generation.
local unsuspended_stale = suspended_esm(4, 2, true)
unsuspended_stale.metadata.generation = 5
unsuspended_stale.spec.suspend = nil

local cases = {
  {
    name = "Ready (Enabled, current generation)",
    obj = esm(2, status("ready", "Enabled", "the mapping is Enabled and matches the spec", 2,
      { uuid = UUID, state = "Enabled" })),
    want = "Healthy",
    message = "the mapping is Enabled and matches the spec",
  },
  {
    name = "Ready (Disabled on purpose with enabled: false)",
    obj = esm(3, status("ready", "Disabled", "the mapping is Disabled and matches the spec", 3,
      { uuid = UUID, state = "Disabled" })),
    want = "Healthy",
    message = "Disabled",
  },
  {
    name = "Creating",
    obj = esm(1, status("progressing", "Creating", "Lambda is creating the mapping", 1,
      { uuid = UUID, state = "Creating" })),
    want = "Progressing",
    message = "Lambda is creating the mapping",
  },
  {
    name = "Waiting (Lambda busy)",
    obj = esm(4, status("progressing", "Waiting", "the mapping is Updating", 4,
      { uuid = UUID, state = "Updating" })),
    want = "Progressing",
    message = "Waiting: the mapping is Updating",
  },
  {
    name = "Stalled Conflict",
    obj = esm(1, status("stalled", "Conflict",
      "a mapping for this source and function already exists (" .. UUID .. ") and is not this resource's", 1)),
    want = "Degraded",
    message = "Conflict: a mapping for this source and function already exists",
  },
  {
    name = "Stalled DisabledByLambda",
    obj = esm(5, status("stalled", "DisabledByLambda",
      "Lambda disabled the mapping (Lambda: the function's role lacks permissions); fix the cause, then set spec.enabled: true to have it re-enabled", 5,
      { uuid = UUID, state = "Disabled" })),
    want = "Degraded",
    message = "DisabledByLambda: Lambda disabled the mapping",
  },
  {
    name = "stale observedGeneration (Ready for generation 2, spec now at 3)",
    obj = esm(3, status("ready", "Enabled", "the mapping is Enabled and matches the spec", 2,
      { uuid = UUID, state = "Enabled" })),
    want = "Progressing",
    message = "observe generation 3",
  },
  {
    name = "stale observedGeneration with an old Stalled (the fix is not seen yet)",
    obj = esm(7, status("stalled", "InvalidParameter", "bad batch size", 6)),
    want = "Progressing",
    message = "observe generation 7",
  },
  {
    name = "no status at all",
    obj = esm(1, nil),
    want = "Progressing",
    message = "Waiting for esm-controller",
  },
  {
    name = "status without conditions (only the create intent recorded)",
    obj = esm(1, { createRequestedAt = "2026-11-21T10:00:00Z" }),
    want = "Progressing",
    message = "Waiting for esm-controller",
  },
  {
    name = "status defaulted to observedGeneration 0, no conditions yet",
    obj = esm(1, { observedGeneration = 0 }),
    want = "Progressing",
    message = "esm-controller",
  },
  {
    name = "being deleted",
    obj = esm(2, status("ready", "Enabled", "the mapping is Enabled and matches the spec", 2),
      { deletionTimestamp = "2026-11-21T10:05:00Z" }),
    want = "Progressing",
    message = "Deleting",
  },
  {
    name = "suspended right after it was Ready (Ready kept for this spec)",
    obj = suspended_esm(3, 2, true),
    want = "Suspended",
    message = "Ready for this spec",
  },
  {
    name = "suspended, then the spec changed (Stalled, reason Suspended)",
    obj = suspended_esm(4, nil, true),
    want = "Suspended",
    message = "Suspended: spec.suspend is true",
  },
  {
    name = "suspended with a float generation",
    obj = suspended_esm(3.0, 2.0, true),
    want = "Suspended",
    message = "Enabled",
  },
  {
    name = "spec.suspend back to false, the old Suspended condition not yet replaced",
    obj = unsuspended_stale,
    want = "Progressing",
    message = "observe generation 5",
  },
  {
    name = "Suspended condition but no spec.suspend (a stale status is not trusted)",
    obj = suspended_esm(4, nil, nil),
    want = "Degraded",
    message = "Suspended",
  },
  {
    name = "Observe: Ready, reason Observed, with drift listed",
    obj = esm(1, status("ready", "Observed",
      "observing mapping " .. UUID .. " (Enabled); managementPolicy is Observe, so nothing is written to Lambda; it differs from the spec in batchSize", 1,
      { uuid = UUID, state = "Enabled", drift = { "batchSize" } })),
    want = "Healthy",
    message = "Observed: observing mapping",
  },
  {
    name = "ignoreDrift: Ready, reason DriftIgnored",
    obj = esm(2, status("ready", "DriftIgnored", "the mapping is Enabled; it differs from the spec in batchSize, which spec.ignoreDrift leaves as changed outside the controller", 2,
      { uuid = UUID, state = "Enabled", drift = { "batchSize" } })),
    want = "Healthy",
    message = "DriftIgnored",
  },
  {
    name = "Observe with nothing to observe (Stalled NothingToObserve)",
    obj = esm(1, status("stalled", "NothingToObserve", "no mapping to observe", 1)),
    want = "Degraded",
    message = "NothingToObserve",
  },
  {
    name = "float generations, as gopher-lua decodes JSON numbers",
    obj = esm(2.0, status("ready", "Enabled", "the mapping is Enabled and matches the spec", 2.0)),
    want = "Healthy",
    message = "Enabled",
  },
  {
    name = "float generation, stale (message prints an integer)",
    obj = esm(9.0, status("progressing", "Updating", "updating BatchSize", 8.0)),
    want = "Progressing",
    message = "observe generation 9",
  },
}

local passed, failed = 0, 0
for _, case in ipairs(cases) do
  obj = case.obj -- Argo CD exposes the resource as the global `obj`
  local ok, hs = pcall(chunk)
  local problem = nil
  if not ok then
    problem = "script error: " .. tostring(hs)
  elseif type(hs) ~= "table" then
    problem = "script returned " .. type(hs) .. ", not a table"
  elseif hs.status ~= case.want then
    problem = "status " .. tostring(hs.status) .. ", want " .. case.want
  elseif type(hs.message) ~= "string" or hs.message == "" then
    problem = "no message"
  elseif string.find(hs.message, case.message, 1, true) == nil then
    problem = "message " .. string.format("%q", hs.message) .. " does not contain " .. string.format("%q", case.message)
  elseif string.find(hs.message, "%.0") ~= nil then
    problem = "message prints a float: " .. hs.message
  end
  if problem == nil then
    passed = passed + 1
    print("ok   - " .. case.name .. " -> " .. hs.status .. " (" .. hs.message .. ")")
  else
    failed = failed + 1
    print("FAIL - " .. case.name .. ": " .. problem)
  end
end
print(string.format("%d passed, %d failed", passed, failed))
if failed > 0 then
  os.exit(1)
end
