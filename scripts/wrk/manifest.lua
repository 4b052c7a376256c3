-- wrk script: GET /manifest as the Personalize SDK sends it, cycling through
-- the population's user uids (read from the file named by TTLAB_UIDS).
local uids = {}
local path = os.getenv("TTLAB_UIDS")
for line in io.lines(path) do
  if #line > 0 then uids[#uids + 1] = line end
end
local i = 0
request = function()
  i = i + 1
  local uid = uids[(i % #uids) + 1]
  return wrk.format("GET", "/manifest", {
    ["x-project-uid"] = "ttlab-project",
    ["x-cs-personalize-user-uid"] = uid,
    ["x-user-agent"] = "personalize-edge-sdk-js/1.0.27",
  })
end
