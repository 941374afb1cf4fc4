-- wrk script: POST /count, cycling through the JSON bodies in $BODIES (one a line).
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  bodies[#bodies + 1] = line
end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/count", { ["Content-Type"] = "application/json" }, bodies[i])
end
response = function(status)
  if status ~= 200 then
    io.stderr:write("status " .. status .. "\n")
  end
end
