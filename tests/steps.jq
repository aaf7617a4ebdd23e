# steps.jq - the records of one workload step, one compact line each.
# Input: `faultline show --json --data`.  $s: the step's name (mark "step $s").
# open/flush/release are left out: the kernel sends release asynchronously,
# so it may land after the next step's mark.
def hexdata:
  if .data_hex == null then ""
  elif (.data_hex | length) <= 64 then " data=" + .data_hex
  else (.data_hex[0:2]) as $b
    | if (.data_hex | test("^(" + $b + ")+$")) then " data=\($b)*\(.data_hex | length / 2)"
      else " xxh3=" + .data_xxh3 end
  end;
def flags: if (.flags | type) == "array" and (.flags | length) > 0
  then " [" + (.flags | join(",")) + "]" else "" end;
def args:
  if .op == "write" then " off=\(.off) len=\(.len)" + flags + hexdata
  elif .op == "truncate" then " size=\(.size) old=\(.old_size) cause=\(.cause)"
  elif .op == "fallocate" then " off=\(.off) len=\(.len)" + flags
  elif .op == "fsync" or .op == "fsyncdir" then " datasync=\(.datasync)"
  elif .op == "rename" then " -> \(.new_path)" + (if .replaced != 0 then " replacing" else "" end) + flags
  elif .op == "symlink" then " -> \(.target)"
  elif .op == "setattr" then " set=" + (.set | join(","))
  elif .op == "setxattr" then " \(.name) len=\(.value_len)"
  elif .op == "removexattr" then " \(.name)"
  else "" end;
foreach .records[] as $x ({step: null, rec: null};
    if $x.op == "mark" then .step = ($x.text | ltrimstr("step ")) | .rec = null
    else .rec = $x end;
    if .step == $s and .rec != null and (.rec.op | IN("open", "flush", "release") | not)
    then .rec else empty end)
| .op + " " + .path + args + (if .result < 0 then " = " + .errno else "" end)
