# Functions of the test cluster harness, sourced through env.sh (and alone by test/unit/harness.test.ts).
# Nothing here runs anything when sourced.

phase_start=${phase_start:-$(date +%s)}
say() { echo "[cluster $(( $(date +%s) - phase_start ))s] $*"; }

DEBIAN_DEFAULT_MIRROR=http://deb.debian.org/debian

# apt_source_entries [ROOT]: the enabled entries of the machine's apt sources, one a line: TYPE URI SUITE [COMPONENT...],
# from ROOT/etc/apt/sources.list and sources.list.d/*.list (one-line format, [options] dropped) and
# sources.list.d/*.sources (deb822: every combination of Types, URIs and Suites; Enabled: no skipped).
apt_source_entries() {
  local root=${1:-} f
  for f in "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" || $1 == "deb-src" { $1 = $1; print }'
  done
  for f in "$root"/etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush(  nt, nu, ns, t, u, s, types, uris, suites) {
        if (enabled != "no") {
          nt = split(T, types, /[ \t]+/); nu = split(U, uris, /[ \t]+/); ns = split(S, suites, /[ \t]+/)
          for (t = 1; t <= nt; t++) for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++)
            if (types[t] != "" && uris[u] != "" && suites[s] != "") print types[t], uris[u], suites[s], C
        }
        T = ""; U = ""; S = ""; C = ""; enabled = ""; field = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ {
        # A continuation line belongs to the field above it.
        if (field == "types") T = T " " $0; else if (field == "uris") U = U " " $0
        else if (field == "suites") S = S " " $0; else if (field == "components") C = C " " $0
        next
      }
      {
        i = index($0, ":"); if (i == 0) next
        field = tolower(substr($0, 1, i - 1)); value = substr($0, i + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", value)
        if (field == "types") T = value; else if (field == "uris") U = value; else if (field == "suites") S = value
        else if (field == "components") C = value; else if (field == "enabled") enabled = tolower(value)
      }
      END { flush() }
    ' "$f"
  done
}

# debian_mirror [ROOT]: the Debian archive this machine's apt uses, so a company mirror or caching proxy
# configured there serves the harness too: the first http(s) entry for a Debian release (not its security
# archive) with the main component, one whose path ends in /debian preferred; else deb.debian.org.
# WPK8S_DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [ -n "${WPK8S_DEBIAN_MIRROR:-}" ]; then echo "${WPK8S_DEBIAN_MIRROR%/}"; return 0; fi
  local found
  found=$(apt_source_entries "${1:-}" | awk '
    BEGIN { releases = "^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)(-updates|-proposed-updates|-backports)?$" }
    ($1 == "deb" || $1 == "deb-src") && $2 ~ /^https?:\/\/[^\/]/ && $3 ~ releases && $2 !~ /security/ {
      main = 0; for (i = 4; i <= NF; i++) if ($i == "main") main = 1
      if (!main) next
      uri = $2; sub(/\/+$/, "", uri)
      if (uri ~ /\/debian$/) { print uri; found = 1; exit }
      if (first == "") first = uri
    }
    END { if (!found && first != "") print first }
  ')
  echo "${found:-$DEBIAN_DEFAULT_MIRROR}"
}

# debian_mirrors [ROOT]: the machine's Debian mirror, then deb.debian.org when that is another one: a mirror
# without source packages (or without bookworm) is not the end.
debian_mirrors() {
  local mine
  mine=$(debian_mirror "${1:-}")
  echo "$mine"
  [ "$mine" = "$DEBIAN_DEFAULT_MIRROR" ] || echo "$DEBIAN_DEFAULT_MIRROR"
}

# fetch_source APT_DIR PACKAGE=VERSION: downloads a bookworm source package into the current folder through a
# private apt configuration in APT_DIR (the machine's apt sources stay untouched; its proxy and auth settings
# apply), from each of debian_mirrors in turn until one has it.
fetch_source() {
  local apt=$1 package=$2 mirror opts
  mkdir -p "$apt/lists/partial"
  opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists="$apt/lists")
  for mirror in $(debian_mirrors); do
    say "downloading the source of $package from $mirror"
    echo "deb-src $mirror bookworm main" > "$apt/sources.list"
    if apt-get "${opts[@]}" update -qq && apt-get "${opts[@]}" source --download-only "$package" >/dev/null; then return 0; fi
    say "no source of $package from $mirror"
  done
  echo "cannot download the source of $package: set WPK8S_DEBIAN_MIRROR to a Debian mirror that has it" >&2
  return 1
}

# debootstrap_bookworm TARGET LOG: a minbase Debian bookworm in TARGET, from each of debian_mirrors in turn,
# through apt's HTTP proxy when one is configured (debootstrap does not read apt's configuration).
debootstrap_bookworm() {
  local target=$1 log=$2 mirror proxy
  proxy=$(apt_http_proxy)
  for mirror in $(debian_mirrors); do
    say "debootstrap bookworm from $mirror"
    rm -rf "$target"
    if http_proxy=${http_proxy:-$proxy} debootstrap --variant=minbase bookworm "$target" "$mirror" >"$log" 2>&1; then return 0; fi
    say "debootstrap from $mirror failed: $(tail -n 1 "$log")"
  done
  return 1
}

# apt_http_proxy: the proxy apt is configured with (Acquire::http::Proxy), for tools that do not read apt's
# configuration (debootstrap's wget); empty when there is none.
apt_http_proxy() {
  { apt-config dump 2>/dev/null || true; } | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | { grep -iv '^direct$' || true; } | head -n 1
}

# duration SECONDS: 75 -> 1m15s, 42 -> 42s
duration() {
  local s=$1
  if [ "$s" -ge 60 ]; then printf '%dm%02ds\n' $((s / 60)) $((s % 60)); else echo "${s}s"; fi
}

# work_left CPUS CURRENT ELAPSED NAME=SECONDS...: what is left of steps done one after another, given how
# long each usually takes on 2 CPUs: the rest of CURRENT (ELAPSED seconds in) and the steps after it.
work_left() {
  local cpus=$1 current=$2 elapsed=$3 left=0 after=() seen=0 item name seconds
  shift 3
  [ "$cpus" -ge 1 ] 2>/dev/null || cpus=2
  for item in "$@"; do
    name=${item%%=*}; seconds=$(( ${item#*=} * 2 / cpus ))
    if [ "$seen" = 1 ]; then after+=("$name"); left=$((left + seconds)); fi
    if [ "$name" = "$current" ]; then
      seen=1
      # Taking longer than usual: count a minute more for it.
      if [ "$elapsed" -lt "$seconds" ]; then left=$((left + seconds - elapsed)); else left=$((left + 60)); fi
    fi
  done
  local minutes=$(( (left + 59) / 60 )) names
  if [ ${#after[@]} -eq 0 ]; then echo "about $minutes min left"; return 0; fi
  names=$(printf '%s, ' "${after[@]}")
  echo "about $minutes min left (then ${names%, })"
}

# Seconds between two progress lines of with_progress.
PROGRESS_SECONDS=${WPK8S_PROGRESS_SECONDS:-30}

# with_progress LABEL LOG LEFT COMMAND...: runs COMMAND (output to LOG) and, while it runs, prints a line every
# PROGRESS_SECONDS: LABEL, the time so far, and what the function LEFT says is left (given the seconds so far).
# COMMAND runs in its own process group: an interrupt of this script stops all of it, and the ticker ends with
# COMMAND, however it ends. Returns COMMAND's exit status.
with_progress() {
  local label=$1 log=$2 left=$3 start pid ticker status=0
  shift 3
  start=$(date +%s)
  setsid "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  progress_ticker "$pid" "$start" "$label" "$left" &
  ticker=$!
  # shellcheck disable=SC2064 # the PIDs are known now
  trap "kill -TERM -- -$pid $ticker 2>/dev/null; exit 130" INT TERM
  wait "$pid" || status=$?
  trap - INT TERM
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}

# progress_ticker PID START LABEL LEFT: with_progress's line every PROGRESS_SECONDS, while PID and this script live.
progress_ticker() {
  local pid=$1 start=$2 label=$3 left=$4 parent=$$ nap= elapsed
  trap '[ -z "$nap" ] || kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$PROGRESS_SECONDS" </dev/null >/dev/null 2>&1 &
    nap=$!
    wait "$nap" || true
    kill -0 "$pid" 2>/dev/null && kill -0 "$parent" 2>/dev/null || exit 0
    elapsed=$(( $(date +%s) - start ))
    say "$label: $(duration "$elapsed") so far, $("$left" "$elapsed")"
  done
}
