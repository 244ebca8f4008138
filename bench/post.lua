-- wrk script: POST a 10-field nested lead with a unique e-mail per request.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[1] and args[1] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[1]
  end
  run = args[2] or "r"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"contact":{"first":"Ada","last":"Lovelace","email":"%s-%d-%d@example.com","phone":"+44 20 7946 0000"},'
      .. '"address":{"city":"London","state":"Greater London","country":"UK"},'
      .. '"company":{"name":"Analytical Engines","title":"Engineer"},"meta":{"source":"wrk"}}',
    run, tid, counter)
  return wrk.format(nil, nil, nil, body)
end
