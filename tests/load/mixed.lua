-- wrk script for tests/load/replicas.sh: a mixed workload of catalog queries, portal pages and
-- provisioning applies, each connection waiting DELAY_MS between its requests. Counts responses by
-- status and writes one JSON summary to $WRK_REPORT when the run ends.
--
--   wrk ... -s tests/load/mixed.lua URL -- TOKEN DELAY_MS SERVICE...

local token, delay_ms, services
local threads = {}

-- The requests, in one repeating sequence (each connection starts at a different place in it):
-- 6 catalog queries, 3 portal pages and 1 apply in every 10.
local sequence = {
  { "GET", "/api/catalog/entities?filter=kind=component,spec.lifecycle=production" },
  { "GET", "/" },
  { "GET", "/api/catalog/entities/by-query?filter=kind=component&orderField=metadata.name,asc&limit=20" },
  { "GET", "/api/catalog/entity-facets?facet=kind&facet=spec.type&facet=spec.lifecycle&facet=spec.owner" },
  { "GET", "/catalog" },
  { "POST", "apply" },
  { "GET", "/api/catalog/entities/by-query?filter=relations.ownedBy=group:default/payments&limit=50" },
  { "GET", "/catalog/default/component/%s" },
  { "GET", "/api/catalog/entities/by-query?fullTextFilterTerm=payment&limit=20" },
  { "GET", "/api/catalog/entities?filter=kind=api&fields=metadata.name,spec.owner" },
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  token = args[1]
  delay_ms = tonumber(args[2])
  services = {}
  for i = 3, #args do
    table.insert(services, args[i])
  end
  math.randomseed(os.time() * 100 + id)
  statuses = {}
  position = math.random(#sequence)
  applies = 0
end

function delay()
  return delay_ms
end

function request()
  position = position % #sequence + 1
  local method, path = sequence[position][1], sequence[position][2]
  local service = services[math.random(#services)]
  local headers = { ["Authorization"] = "Bearer " .. token }
  if path == "apply" then
    applies = applies + 1
    headers["Content-Type"] = "application/json"
    -- A different pod count each time, so that most applies change the environment and commit.
    local body = string.format('{"service":"%s","environment":"dev","set":{"pods":"%d"}}',
      service, 8 + math.random(16))
    return wrk.format("POST", "/api/provision/apply", headers, body)
  end
  return wrk.format(method, string.format(path, service), headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local sent = 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    sent = sent + thread:get("applies")
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  local json = string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d,"non_2xx_3xx":%d,"applies_sent":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status, sent,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ","))
  local path = os.getenv("WRK_REPORT")
  if path then
    local file = assert(io.open(path, "w"))
    file:write(json)
    file:close()
  else
    io.write(json)
  end
end
