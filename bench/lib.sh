# Shared by the bench/ scripts: source it after setting `out` (the output directory) and
# `prefix` (the scripts' file prefix, e.g. `audit`).

# measure LABEL COMMAND...: runs COMMAND under GNU time -v, its standard output kept in
# $out/$prefix-out-LABEL.txt, and prints "wall_s cpu_s rss_kb".
measure() {
  local label=$1; shift
  local t=$out/$prefix-time-$label.txt
  /usr/bin/time -v -o "$t" "$@" >"$out/$prefix-out-$label.txt" 2>/dev/null || true
  awk -F': ' '
    /User time \(seconds\)/ { u = $2 }
    /System time \(seconds\)/ { s = $2 }
    /Maximum resident set size/ { m = $2 }
    /Elapsed \(wall clock\) time/ {
      n = split($2, p, ":"); w = 0
      for (i = 1; i <= n; i++) w = w * 60 + p[i]
    }
    END { printf "%.2f %.2f %d\n", w, u + s, m }' "$t"
}
