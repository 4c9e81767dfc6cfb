#!/usr/bin/env python3
"""Roster's benchmark harness.

Seeds a SQLite database through Roster's own storage layer (roster-seed), starts the
ceiling (roster-ceiling: the same HTTP stack answering a fixed group from memory) and
`roster serve` in release mode, drives every scenario with wrk (same threads, connections
and duration for all), and prints a table of throughput, p50/p99 latency, ratio to the
ceiling and peak RSS. A full run writes the table, the machine and the command into
docs/benchmarks.md.

    bench/run.py                     # full run on SQLite then PostgreSQL (~25 min on 2 cores)
    bench/run.py --smoke             # seconds: tiny data, 1 s per scenario; checks the harness
    bench/run.py --backend sqlite    # one backend (sqlite or postgres); docs are not rewritten
    bench/run.py --only "GET list"   # only the scenarios whose name contains the text
    bench/run.py --duration 5s       # wrk's duration per scenario (default 10s, 1s in a smoke)
    bench/run.py --statements        # PostgreSQL: print each write row's costliest statements
                                     # (pg_stat_statements), for profiling
    bench/run.py --scale 1m          # ten times the data on SQLite: 1,000,000 groups and members,
                                     # then the same rows at 100,000 right after (its own ceiling),
                                     # written side by side to docs/benchmarks-1m.md (not in CI)

Needs wrk (Debian: apt-get install wrk); installs it with apt-get when missing.
"""

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = "--smoke" in sys.argv
STATEMENTS = "--statements" in sys.argv
SCALE_ARG = sys.argv[sys.argv.index("--scale") + 1] if "--scale" in sys.argv[:-1] else None
SCALE = SCALE_ARG == "1m"
# The 100,000 leg of a scale run: the scale run's rows at the usual size, nothing else.
SCALE_BASE = SCALE_ARG == "100k"
GROUPS = 1000 if SMOKE else 1_000_000 if SCALE else 100_000
HUGE = 200 if SMOKE else 1_000_000 if SCALE else 100_000
# The many-organizations mix: TENANTS organizations of TENANT_GROUPS groups each.
TENANTS, TENANT_GROUPS = (20, 5) if SMOKE else (0, 0) if SCALE or SCALE_BASE else (1000, 100)
SWEEP = 2000 if SMOKE else 100_000
DURATION = (sys.argv[sys.argv.index("--duration") + 1] if "--duration" in sys.argv[:-1]
            else "1s" if SMOKE else "10s")
THREADS, CONNECTIONS = 2, 64


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("installing wrk (apt-get)…", flush=True)
    sh("apt-get", "install", "-y", "wrk", stdout=subprocess.DEVNULL)


def build():
    sh("cargo", "build", "--release", "--locked", "-p", "roster", "-p", "roster-bench", cwd=ROOT)
    return os.path.join(ROOT, "target", "release")


def wait_listening(process, prefix):
    for line in process.stdout:
        if line.startswith(prefix):
            return line.split("http://", 1)[1].split()[0]
    raise RuntimeError(f"{prefix!r} never printed")


# Each wrk thread seeds its own random numbers, so that names never collide.
SEED = """
counter = 0
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000000)
end
"""

# Reads of random groups of one organization; a fraction of the requests are writes,
# to another organization (creates) or to random groups of the same one (renames).
MIXED = SEED + """
groups = {GROUPS}
fraction = FRACTION
request = function()
  counter = counter + 1
  if math.random() < fraction then
    local name = string.format("mixed %d %d %d", math.random(1, 1000000000), counter, os.time())
    if "TARGET" == "other" then
      return wrk.format("POST", "/organizations/OTHER/groups", nil, '{"name": "' .. name .. '", "description": "d"}')
    end
    return wrk.format("PUT", "/organizations/ORG/groups/" .. groups[math.random(#groups)], nil, '{"name": "' .. name .. '"}')
  end
  return wrk.format("GET", "/organizations/ORG/groups/" .. groups[math.random(#groups)])
end
"""

# Requests spread Zipf-like (s = 1.1) over many organizations: 95% reads (a group, the
# first page of groups, a group's members), 5% writes (rename, membership edit, create).
ZIPF = SEED + """
tenants = {TENANTS}
cumulative, total = {}, 0
for k = 1, #tenants do
  total = total + 1 / (k ^ 1.1)
  cumulative[k] = total
end
local function pick()
  local u, lo, hi = math.random() * total, 1, #tenants
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cumulative[mid] < u then lo = mid + 1 else hi = mid end
  end
  return tenants[lo]
end
request = function()
  counter = counter + 1
  local t = pick()
  local headers = {["Authorization"] = "Bearer " .. t.token, ["X-Tallyfy-Client"] = "bench", ["Content-Type"] = "application/json"}
  local base = "/organizations/" .. t.org .. "/groups"
  local group = t.groups[math.random(#t.groups)]
  local r = math.random()
  if r < 0.95 then
    local kind = math.random(3)
    if kind == 1 then return wrk.format("GET", base .. "/" .. group, headers) end
    if kind == 2 then return wrk.format("GET", base .. "?per_page=10", headers) end
    return wrk.format("GET", base .. "/" .. group .. "/members", headers)
  end
  local name = string.format("zipf %d %d %d", math.random(1, 1000000000), counter, os.time())
  local kind = math.random(3)
  if kind == 1 then return wrk.format("PUT", base .. "/" .. group, headers, '{"name": "' .. name .. '"}') end
  if kind == 2 then
    local verb = (counter % 2 == 1) and "add" or "remove"
    return wrk.format("PATCH", base .. "/" .. group .. "/members", headers, '{"' .. verb .. '": [' .. t.member .. ']}')
  end
  return wrk.format("POST", base, headers, '{"name": "' .. name .. '", "description": "d"}')
end
"""


def lua_list(items):
    return "{" + ", ".join(f'"{item}"' for item in items) + "}"


def mixed_script(work, backend, seeded, fraction, target):
    path = os.path.join(work, f"{backend}-mixed-{target}-{fraction}.lua")
    body = (MIXED.replace("{GROUPS}", lua_list(seeded["read_groups"])).replace("FRACTION", str(fraction))
            .replace("TARGET", target).replace("OTHER", seeded["spread_orgs"][0]).replace("ORG", seeded["org"]))
    with open(path, "w") as script:
        script.write(body)
    return path


def zipf_script(work, backend, seeded):
    path = os.path.join(work, f"{backend}-zipf.lua")
    tenants = ", ".join(
        f'{{org = "{t["org"]}", token = "{t["token"]}", member = {t["member"]}, groups = {lua_list(t["groups"])}}}'
        for t in seeded["tenants"])
    with open(path, "w") as script:
        script.write(ZIPF.replace("{TENANTS}", "{" + tenants + "}"))
    return path


def cache_counts(addr):
    """The read cache's (hits, revalidated, misses) so far, from /metrics."""
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
    answers = dict(re.findall(r'roster_read_cache_answers_total\{result="(\w+)"\} (\d+)', text))
    callers = dict(re.findall(r'roster_read_cache_principals_total\{result="(\w+)"\} (\d+)', text))
    return (*(int(answers.get(result, 0)) for result in ("hit", "revalidated", "miss")),
            *(int(callers.get(result, 0)) for result in ("hit", "miss")))


def with_hit_rate(addr, run):
    """Runs a scenario and notes the share of its cacheable reads the cache answered."""
    before = cache_counts(addr)
    result = run()
    after = cache_counts(addr)
    hits, revalidated, misses, caller_hits, caller_misses = (a - b for a, b in zip(after, before))
    total = hits + revalidated + misses
    result["hit_rate"] = hits / total if total else 0.0
    result["revalidated_rate"] = revalidated / total if total else 0.0
    callers = caller_hits + caller_misses
    result["caller_hit_rate"] = caller_hits / callers if callers else 0.0
    return result


def pgbench(url, *args):
    """tps of a pgbench run against the benchmark's cluster."""
    out = subprocess.run(["pgbench", *args, "-T", "5" if SMOKE else "10", "-n", url],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not match:
        raise RuntimeError(f"pgbench printed no tps: {out}")
    return float(match.group(1))


def pgbench_rows(url, rows):
    """PostgreSQL's own limit on the same cluster, and Roster's rows as ratios to it."""
    db = url.rsplit("/", 1)[0] + "/pgbench"
    subprocess.run(["psql", url, "-qc", "CREATE DATABASE pgbench"], check=True, capture_output=True)
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", db], check=True, capture_output=True)
    jobs = ["-c", str(CONNECTIONS), "-j", str(THREADS)]
    select_run = with_cpu(lambda: {"rps": pgbench(db, "-S", "-M", "prepared", *jobs)})
    select = select_run["rps"]
    simple = pgbench(db, "-N", "-M", "prepared", *jobs)
    single = pgbench(db, "-N", "-M", "prepared", "-c", "1")
    by_name = {name: result for name, result, _ in rows}
    def find(prefix):
        return next((result["rps"] for name, result in by_name.items() if name.startswith(prefix)), 0.0)
    def ratio(name, rps, base, target):
        return (f"{name}, ratio to pgbench", {"rps": rps, "p50": 0.0, "p99": 0.0, "non2xx": 0, "of": base},
                f"{target}: {rps / base:.2f}" if base else target)
    return [
        (f"pgbench -S -M prepared -c {CONNECTIONS} (select only)", {"rps": select, "p50": 0.0, "p99": 0.0, "non2xx": 0}, f"PostgreSQL's own limit; {cpu_text(select_run)}"),
        (f"pgbench -N -M prepared -c {CONNECTIONS} (simple writes)", {"rps": simple, "p50": 0.0, "p99": 0.0, "non2xx": 0}, "PostgreSQL's own limit"),
        ("pgbench -N -M prepared -c 1 (one writer)", {"rps": single, "p50": 0.0, "p99": 0.0, "non2xx": 0}, "PostgreSQL's own limit"),
        ratio("GET one group", find("GET one group (10 members, 2"), select, ">= 0.60 of pgbench -S"),
        ratio("GET list page 1", find("GET list, page 1"), select, ">= 0.40 of pgbench -S"),
        ratio("POST create spread over 16 organizations", find("POST create group, spread"), simple, ">= 0.50 of pgbench -N"),
        ratio("POST create in one organization", find("POST create group (with"), single, ">= 0.80 of pgbench -N -c 1"),
    ]


LUA = {
    "post": SEED + """
request = function()
  counter = counter + 1
  local name = string.format("bench %d %d %d", math.random(1, 1000000000), counter, os.time())
  return wrk.format("POST", wrk.path, nil, '{"name": "' .. name .. '", "description": "d"}')
end
""",
    "post_spread": SEED + """
orgs = {ORGS}
request = function()
  counter = counter + 1
  local name = string.format("spread %d %d %d", math.random(1, 1000000000), counter, os.time())
  local path = "/organizations/" .. orgs[(counter % #orgs) + 1] .. "/groups"
  return wrk.format("POST", path, nil, '{"name": "' .. name .. '", "description": "d"}')
end
""",
    "put": SEED + """
request = function()
  counter = counter + 1
  local name = string.format("renamed %d %d", math.random(1, 1000000000), counter)
  return wrk.format("PUT", wrk.path, nil, '{"name": "' .. name .. '"}')
end
""",
    "patch": SEED + """
request = function()
  counter = counter + 1
  local verb = (counter % 2 == 1) and "add" or "remove"
  return wrk.format("PATCH", wrk.path, nil, '{"' .. verb .. '": [MEMBER]}')
end
""",
}


# The same creates, each connection pausing 40 ms before each request: a steady load
# below what four attempts in flight per endpoint can deliver.
LUA["post_paced"] = LUA["post"] + """
delay = function()
  return 40
end
"""


def wrk(url, headers=(), script=None, connections=CONNECTIONS, duration=DURATION):
    args = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}", "--latency"]
    for header in headers:
        args += ["-H", header]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": percentile(50), "p99": percentile(99), "non2xx": int(errors.group(1)) if errors else 0}


def cpu_seconds():
    """CPU seconds used so far: by the machine (busy, and waiting on I/O, from /proc/stat)
    and by the PostgreSQL and roster processes alive now."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat_file:
        # user nice system idle iowait irq softirq steal
        fields = [int(v) for v in stat_file.readline().split()[1:9]]
    used = {"busy": (sum(fields) - fields[3] - fields[4]) / tick, "iowait": fields[4] / tick,
            "postgres": 0.0, "roster": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        kind = "postgres" if name.startswith("postgres") else name if name == "roster" else None
        if kind:
            used[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return used


def with_cpu(run):
    """Runs a scenario and notes how the machine's CPU time was shared while it ran
    (shares of all its cores; a process that ends during the run, like wrk, counts in
    "busy" only)."""
    before, started = cpu_seconds(), time.time()
    result = run()
    after, wall = cpu_seconds(), time.time() - started
    capacity = wall * (os.cpu_count() or 1)
    result["cpu"] = {kind: (after[kind] - before[kind]) / capacity for kind in after}
    return result


def cpu_text(result):
    cpu = result["cpu"]
    return (f"CPU busy {cpu['busy']:.0%} (postgres {cpu['postgres']:.0%}, roster {cpu['roster']:.0%}),"
            f" I/O wait {cpu['iowait']:.0%}")


def two_instances(addr, second_addr, path, headers):
    """The same GET against two `roster serve` instances on one database at once, each
    with the connections one instance gets alone: the sum of their rates."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(wrk, f"http://{a}{path}", headers) for a in (addr, second_addr)]
        results = [run.result() for run in runs]
    return {"rps": sum(r["rps"] for r in results), "p50": max(r["p50"] for r in results),
            "p99": max(r["p99"] for r in results), "non2xx": sum(r["non2xx"] for r in results)}


def with_waits(url, run):
    """Runs a scenario while sampling what PostgreSQL's busy backends wait on (every
    100 ms, from pg_stat_activity), and notes the commonest waits."""
    # A connection idle inside a transaction waits for Roster's next statement.
    query = ("SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'CPU') "
             "ELSE 'Client:next-statement-in-transaction' END FROM pg_stat_activity "
             "WHERE state IN ('active', 'idle in transaction') AND backend_type = 'client backend' "
             "AND pid <> pg_backend_pid();\n")
    if STATEMENTS:
        psql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()")
    with tempfile.TemporaryFile("w+") as samples:
        sampler = subprocess.Popen(["psql", "-At", url], stdin=subprocess.PIPE, stdout=samples,
                                   stderr=subprocess.DEVNULL, text=True)
        sampler.stdin.write(query + "\\watch 0.1\n")
        sampler.stdin.flush()
        try:
            result = run()
        finally:
            # Ctrl-C ends the watch; then psql reads the end of its input and exits.
            sampler.send_signal(signal.SIGINT)
            sampler.communicate(timeout=30)
        samples.seek(0)
        out = samples.read()
    counts = {}
    for line in out.splitlines():
        if line and " " not in line.strip():
            counts[line.strip()] = counts.get(line.strip(), 0) + 1
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
    result["waits"] = ", ".join(f"{name} {n / total:.0%}" for name, n in top) if total else "none sampled"
    if STATEMENTS:
        print(f"costliest statements ({result.get('rps', 0):,.0f} req/s):", flush=True)
        print(psql(url, "SELECT calls, round(total_exec_time) AS ms, round(mean_exec_time::numeric, 3) AS mean, "
                        "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
                        "ORDER BY total_exec_time DESC LIMIT 12"), flush=True)
    return result


def psql(url, command):
    return subprocess.run(["psql", "-X", "-q", url, "-c", command], check=True,
                          capture_output=True, text=True).stdout


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def option(name, default=None):
    if name in sys.argv:
        index = sys.argv.index(name)
        if index + 1 < len(sys.argv):
            return sys.argv[index + 1]
    return default


# At ten times the data only SQLite by default: seeding PostgreSQL with a million groups
# through Roster's own write path takes most of an hour on this kind of machine.
BACKENDS = ((["sqlite"] if SCALE or SCALE_BASE else ["sqlite", "postgres"]) if option("--backend", "both") == "both"
            else [option("--backend")])
ONLY = option("--only")


class Postgres:
    """A throwaway PostgreSQL cluster with durable settings (scripts/with-postgres)."""

    def __init__(self):
        env = dict(os.environ, ROSTER_PG_DURABLE="1")
        if STATEMENTS:
            env["ROSTER_PG_SETTINGS"] = "-c shared_preload_libraries=pg_stat_statements"
        # The free port with-postgres picks can be taken before the cluster binds it (seen
        # once in CI): a new cluster on a new port is tried, three times at most.
        for _ in range(3):
            self.process = subprocess.Popen(
                [os.path.join(ROOT, "scripts", "with-postgres"), "sh", "-c", 'echo "$ROSTER_TEST_POSTGRES_URL"; read _'],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            self.url = self.process.stdout.readline().strip()
            if self.url.startswith("postgres://"):
                return
            self.process.wait()
            time.sleep(1)
        raise RuntimeError("the PostgreSQL cluster did not start")

    def stop(self):
        self.process.stdin.close()
        self.process.wait()


def run_backend(backend, release, work):
    """Seeds, starts `roster serve` on one backend, runs the scenarios; returns rows and facts."""
    postgres = Postgres() if backend == "postgres" else None
    url = postgres.url if postgres else f"sqlite://{os.path.join(work, 'bench.db')}"
    try:
        started = time.time()
        seeded = json.loads(subprocess.run([os.path.join(release, "roster-seed"), url, str(GROUPS), str(HUGE),
                                            str(TENANTS), str(TENANT_GROUPS)],
                                           check=True, capture_output=True, text=True).stdout)
        seed_seconds = time.time() - started
        rows, rss, first_answer_ms = measure(backend, release, work, url, seeded)
        sweep_url = url if postgres else f"sqlite://{os.path.join(work, 'sweep.db')}"
        sweep = json.loads(subprocess.run([os.path.join(release, "roster-sweep"), sweep_url, str(SWEEP)],
                                          check=True, capture_output=True, text=True).stdout)
        if postgres and not (SCALE or SCALE_BASE):
            rows += pgbench_rows(postgres.url, rows)
        return rows, rss, first_answer_ms, seed_seconds, sweep
    finally:
        if postgres:
            postgres.stop()


def measure(backend, release, work, url, seeded):
    org, token = seeded["org"], seeded["token"]
    headers = [f"Authorization: Bearer {token}", "X-Tallyfy-Client: bench", "Content-Type: application/json"]
    scripts = {}
    for name, body in LUA.items():
        for variant, member in (("", seeded["small_member"]), ("_big", seeded["member"])):
            path = os.path.join(work, f"{backend}-{name}{variant}.lua")
            orgs = "{" + ", ".join(f'"{o}"' for o in seeded["spread_orgs"]) + "}"
            with open(path, "w") as script:
                script.write(body.replace("MEMBER", str(member)).replace("{ORGS}", orgs))
            scripts[name + variant] = path

    # Before the writes below add groups, so that both see the same data.
    uncached = [] if backend == "postgres" else reads_without_cache(release, url, org, seeded, headers)
    launch = time.time()
    server, addr = start_server(release, url)
    first_answer_ms = None
    while first_answer_ms is None:
        try:
            urllib.request.urlopen(f"http://{addr}/healthz", timeout=1).read()
            first_answer_ms = (time.time() - launch) * 1000
        except OSError:
            time.sleep(0.002)

    base = f"http://{addr}/organizations/{org}"
    big_base = f"http://{addr}/organizations/{seeded['big_org']}"
    small, huge = seeded["small_group"], seeded["huge_group"]
    last_page = (GROUPS + 9) // 10
    on_pg = backend == "postgres"
    # (name, how to run it, target). The small group first: the writes below add groups
    # and members.
    plan = [
        ("GET one group (10 members, 2 guests)", lambda: wrk(f"{base}/groups/{small}", headers), ">= 0.25" if on_pg else ">= 0.50"),
        ("GET one group (10 members, 3 of them expiring)", lambda: wrk(f"{base}/groups/{seeded['expiring_group']}", headers), "within 10% of the row above"),
        (f"GET list, page 1, per_page 10, {GROUPS:,} groups", lambda: wrk(f"{base}/groups?per_page=10", headers), ">= 0.30"),
        ("GET list, last page, same org", lambda: wrk(f"{base}/groups?per_page=10&page={last_page}", headers), ">= 0.15"),
        ("GET list with q matching 1% of the groups", lambda: wrk(f"{base}/groups?q=needle", headers), ">= 0.05"),
        ("GET the change stream, a page of 100 events", lambda: wrk(f"{base}/events?limit=100", headers), ">= 0.10"),
        ("POST create group (with its events), one organization", lambda: wrk(f"{base}/groups", headers, scripts["post"]), ">= 0.08"),
        ("POST create group, spread over 16 organizations", lambda: wrk(f"http://{addr}/", headers, scripts["post_spread"]), "reported"),
        ("PUT rename group", lambda: wrk(f"{base}/groups/{small}", headers, scripts["put"]), ">= 0.08"),
        ("PATCH add/remove one member, 10-member group", lambda: wrk(f"{base}/groups/{small}/members", headers, scripts["patch"]), ">= 0.20"),
        (f"PATCH add/remove one member, {HUGE:,}-member group", lambda: wrk(f"{big_base}/groups/{huge}/members", headers, scripts["patch_big"]), ">= 0.08, within 20% of the 10-member group"),
        (f"GET one {HUGE:,}-member group (4 connections)", lambda: wrk(f"{big_base}/groups/{huge}", headers, connections=4), "p50 <= 50 ms"),
        (f"GET members page 1 of the {HUGE:,}-member group", lambda: wrk(f"{big_base}/groups/{huge}/members", headers), "reported"),
        (f"GET members last page (cursor) of the {HUGE:,}-member group", lambda: wrk(f"{big_base}/groups/{huge}/members?cursor={seeded['huge_tail_cursor']}", headers), "reported"),
    ]
    if not (SCALE or SCALE_BASE):
        reads = lambda fraction, target: lambda: with_hit_rate(  # noqa: E731
            addr, lambda: with_cpu(lambda: wrk(f"{base}/groups", headers, mixed_script(work, backend, seeded, fraction, target))))
        plan += [
            (READS_ALONE, reads(0, "other"), "the base of the three rows below"),
            ("mixed: reads while another organization writes 1% of the requests", reads(0.01, "other"), ">= 0.90 of reads alone"),
            ("mixed: reads while another organization writes 10% of the requests", reads(0.10, "other"), ">= 0.70 of reads alone"),
            ("mixed: 10% writes over the groups of the same organization", reads(0.10, "same"), ">= 0.65 of reads alone"),
            (f"mixed: {len(seeded['tenants']):,} organizations of {TENANT_GROUPS} groups, Zipf s=1.1, 95% reads / 5% writes",
             lambda: with_hit_rate(addr, lambda: with_cpu(lambda: wrk(f"http://{addr}/", headers, zipf_script(work, backend, seeded)))),
             ">= 0.40, p99 <= 10 ms"),
        ]
    # Whether a write row is bound by the CPU or waits (on fsync, on locks).
    plan = [(name, (lambda run=run: with_cpu(run)) if name.startswith(WRITES) else run, target)
            for name, run, target in plan]
    if on_pg:
        plan = [(name, run, target if name.startswith("GET one group") else "reported") for name, run, target in plan]
        # Where the time goes when Roster, PostgreSQL and wrk share the machine, and
        # what the database's busy connections wait on during the writes.
        plan[0] = (plan[0][0], lambda run=plan[0][1]: with_cpu(run), plan[0][2])
        plan = [(name, (lambda run=run: with_waits(url, run)) if name.startswith(WRITES) else run, target)
                for name, run, target in plan]
    rows = [(name, run(), target) for name, run, target in plan if not ONLY or ONLY in name]
    if not (SCALE or SCALE_BASE):
        rows += webhook_rows(release, addr, seeded, headers, scripts["post"], scripts["post_paced"], on_pg)
    if on_pg and not SCALE and rows and rows[0][0].startswith("GET one group"):
        one = rows[0][1]
        second, second_addr = start_server(release, url)
        try:
            both = with_cpu(lambda: two_instances(addr, second_addr, f"/organizations/{org}/groups/{small}", headers))
        finally:
            second.terminate()
            second.wait()
        rows.append((TWO_INSTANCES, both,
                     f"sum >= 1.6x one instance ({one['rps']:,.0f}): {both['rps'] / one['rps']:.2f}x; {cpu_text(both)}"))
    rss = peak_rss_mib(server.pid)
    server.terminate()
    server.wait()
    return rows + uncached, rss, first_answer_ms


WEBHOOK_ROWS = "POST create group with webhooks subscribed"


def api(addr, method, path, token, body=None):
    request = urllib.request.Request(
        f"http://{addr}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "X-Tallyfy-Client": "bench", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def webhook_rows(release, addr, seeded, headers, script, paced_script, on_pg):
    """Creates in one organization with 0, 1 and 10 endpoints subscribed to every event
    (a fast local receiver, roster-receiver): what subscriptions cost the write path, and
    how long after each write its delivery was answered (every delivery of the load,
    waited for up to a minute after it); then the same at a steady pace (4 connections,
    40 ms between requests), where the delay is the deliverer's own, not a backlog's."""
    if ONLY and not WEBHOOK_ROWS.startswith(ONLY) and ONLY not in WEBHOOK_ROWS:
        return []
    org, token = seeded["spread_orgs"][1], seeded["token"]
    receiver = subprocess.Popen([os.path.join(release, "roster-receiver"), "127.0.0.1:0"],
                                stdout=subprocess.PIPE, text=True)
    receiver_addr = wait_listening(receiver, "receiver listening on")
    path, rows, hooks, without = f"/organizations/{org}", [], [], 0.0
    try:
        # The paced rows before the full ones, whose backlog would delay them; deleting an
        # endpoint cancels its backlog.
        for count, paced in ((0, False), (1, True), (10, True), (1, False), (10, False)):
            while len(hooks) > count:
                api(addr, "DELETE", f"{path}/webhooks/{hooks.pop()}", token)
            while len(hooks) < count:
                made = api(addr, "POST", f"{path}/webhooks", token,
                           {"url": f"http://{receiver_addr}/hook/{len(hooks)}", "description": "bench"})
                hooks.append(made["data"]["id"])
            api(receiver_addr, "DELETE", "/stats", token)
            before = api(addr, "GET", f"{path}/groups?per_page=1", token)["meta"]["pagination"]["total"]
            result = with_cpu(lambda: wrk(f"http://{addr}{path}/groups", headers, paced_script, connections=4)
                              if paced else wrk(f"http://{addr}{path}/groups", headers, script))
            made = api(addr, "GET", f"{path}/groups?per_page=1", token)["meta"]["pagination"]["total"] - before
            expected, stats = made * count, {"received": 0}
            deadline = time.time() + 60
            while count and time.time() < deadline:
                stats = api(receiver_addr, "GET", "/stats", token)
                if stats["received"] >= expected:
                    break
                time.sleep(0.2)
            delays = (f"delivered {stats['received']:,} of {expected:,},"
                      f" write to answer p50 {stats.get('p50_ms', 0)} ms, p99 {stats.get('p99_ms', 0)} ms"
                      f" ({'reported' if on_pg else 'p99 <= 100 ms'})")
            if count == 0:
                without = result["rps"]
                target = "the base of the two rows below"
            elif paced:
                target = f"a steady {result['rps']:,.0f} creates/s; {delays}"
            else:
                share = result["rps"] / without if without else 0.0
                target = f">= 0.90 of no endpoint: {share:.2f}; {delays}"
            rows.append((f"{WEBHOOK_ROWS}: {count}" + (" endpoint" if count == 1 else " endpoints")
                         + (", paced" if paced else ""), result, target))
        for hook in hooks:
            api(addr, "DELETE", f"{path}/webhooks/{hook}", token)
    finally:
        receiver.terminate()
        receiver.wait()
    return rows


def reads_without_cache(release, url, org, seeded, headers):
    """The read scenarios again with `--read-cache-mib 0`: what a read costs when it
    cannot be reused (the first read after any write)."""
    server, addr = start_server(release, url, "--read-cache-mib", "0")
    base = f"http://{addr}/organizations/{org}"
    big_base = f"http://{addr}/organizations/{seeded['big_org']}"
    last_page = (GROUPS + 9) // 10
    plan = [
        ("GET one group, read cache off", lambda: wrk(f"{base}/groups/{seeded['small_group']}", headers)),
        ("GET list, page 1, read cache off", lambda: wrk(f"{base}/groups?per_page=10", headers)),
        ("GET list, last page, read cache off", lambda: wrk(f"{base}/groups?per_page=10&page={last_page}", headers)),
        ("GET list with q, read cache off", lambda: wrk(f"{base}/groups?q=needle", headers)),
        (f"GET one {HUGE:,}-member group (4 connections), read cache off", lambda: wrk(f"{big_base}/groups/{seeded['huge_group']}", headers, connections=4)),
        (f"GET members page 1 of the {HUGE:,}-member group, read cache off", lambda: wrk(f"{big_base}/groups/{seeded['huge_group']}/members", headers)),
        ("GET members last page (cursor), read cache off", lambda: wrk(f"{big_base}/groups/{seeded['huge_group']}/members?cursor={seeded['huge_tail_cursor']}", headers)),
    ]
    rows = [(name, run(), "reported") for name, run in plan if not ONLY or ONLY in name]
    server.terminate()
    server.wait()
    return rows


def start_server(release, url, *extra):
    server = subprocess.Popen(
        [os.path.join(release, "roster"), "serve", "--listen", "127.0.0.1:0", "--database", url,
         "--rate-limit-per-minute", "0", "--max-concurrent-requests", "4096",
         # The webhook rows deliver to a receiver on loopback.
         "--webhook-allow-http", "--webhook-allow-private-targets", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return server, wait_listening(server, "Roster is listening on")


WRITES = ("POST", "PUT", "PATCH")
READS_ALONE = "mixed: reads of random groups of one organization, alone"
TWO_INSTANCES = f"two roster serve instances on one cluster, GET one group ({CONNECTIONS} connections each)"


def target_text(name, result, target, alone):
    """The target column: for mixed rows, the share of reads alone and the cache's hit rate."""
    if name.startswith("mixed:") and name != READS_ALONE and alone:
        share = f"{result['rps'] / alone:.2f}"
        target = f"{target}: {share}" if "of reads alone" in target else f"{target}; {share} of reads alone"
    if "cpu" in result and name != TWO_INSTANCES:
        target = f"{target}; {cpu_text(result)}"
    if "waits" in result:
        target = f"{target}; PostgreSQL waits: {result['waits']}"
    if "hit_rate" in result:
        target = (f"{target} (cache hits {result['hit_rate']:.0%}, revalidated {result['revalidated_rate']:.0%},"
                  f" callers remembered {result['caller_hit_rate']:.0%})")
    return target


def table(ceiling_result, rows, rss, first_answer_ms, on_pg, sweep):
    ceiling_rps = ceiling_result["rps"]
    alone = next((result["rps"] for name, result, _ in rows if name == READS_ALONE), 0.0)
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | ratio to ceiling | target | non-2xx |",
        "|---|---:|---:|---:|---:|---|---:|",
        f"| ceiling (fixed JSON from memory, same stack) | {ceiling_rps:,.0f} | {ceiling_result['p50']:.2f} | {ceiling_result['p99']:.2f} | 1.00 | | {ceiling_result['non2xx']} |",
    ]
    for name, result, target in rows:
        if "of" in result or name.startswith("pgbench"):
            # pgbench's own rows, and Roster's as ratios to them: no latency of ours.
            lines.append(f"| {name} | {result['rps']:,.0f} | | | {result['rps'] / ceiling_rps:.3f} | {target} | |")
            continue
        target = target_text(name, result, target, alone)
        lines.append(f"| {name} | {result['rps']:,.0f} | {result['p50']:.2f} | {result['p99']:.2f} | {result['rps'] / ceiling_rps:.3f} | {target} | {result['non2xx']} |")
    if rows and rows[0][0].startswith("GET one group"):
        lines.append(f"| p99 of GET one group at {CONNECTIONS} connections | | | {rows[0][1]['p99']:.2f} | | {'reported' if on_pg else '<= 5 ms'} | |")
    lines.append(f"| peak RSS of roster serve, whole run | {rss:.1f} MiB | | | | {'reported' if on_pg else '<= 64 MiB'} | |")
    lines.append(f"| start to first answered request | {first_answer_ms:.0f} ms | | | | {'reported' if on_pg else '<= 200 ms'} | |")
    lines.append(f"| sweep of {SWEEP:,} memberships ending at one instant | {sweep['ended']:,} ended in {sweep['sweep_seconds']:.2f} s | | | | reported | |")
    lines.append(f"| longest wait of a concurrent write during that sweep ({sweep['writes']:,} writes) | | | {sweep['max_write_ms']:.1f} (p99 {sweep['p99_write_ms']:.1f}) | | <= 100 ms | |")
    return "\n".join(lines)


def main():
    ensure_wrk()
    release = build()
    work = tempfile.mkdtemp(prefix="roster-bench-")
    ceiling = subprocess.Popen([os.path.join(release, "roster-ceiling"), "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    ceiling_addr = wait_listening(ceiling, "ceiling listening on")
    ceiling_result = wrk(f"http://{ceiling_addr}/")
    ceiling.terminate()

    tables, seeds, rows_by_backend = {}, {}, {}
    for backend in BACKENDS:
        rows, rss, first_answer_ms, seed_seconds, sweep = run_backend(backend, release, work)
        seeds[backend] = seed_seconds
        tables[backend] = table(ceiling_result, rows, rss, first_answer_ms, backend == "postgres", sweep)
        rows_by_backend[backend] = rows
        print(f"\n{TITLES[backend]} (seeded in {seed_seconds:.0f} s)\n{tables[backend]}", flush=True)
        if SMOKE:
            bad = [name for name, result, _ in rows if result["rps"] <= 0]
            if bad:
                sys.exit(f"{backend}: scenarios served nothing: {bad}")
    shutil.rmtree(work, ignore_errors=True)
    if SCALE_BASE:
        with open(option("--rows-out"), "w") as out:
            json.dump({"ceiling": ceiling_result["rps"],
                       "rows": [[name, result] for name, result, _ in rows_by_backend["sqlite"]]}, out)
        return
    if SCALE and not ONLY and BACKENDS == ["sqlite"]:
        base_path = os.path.join(tempfile.gettempdir(), f"roster-scale-base-{os.getpid()}.json")
        print("\nthe same rows at 100,000, right after:", flush=True)
        sh(sys.executable, os.path.abspath(__file__), "--scale", "100k", "--rows-out", base_path,
           *(["--smoke"] if SMOKE else []))
        with open(base_path) as base_file:
            base = json.load(base_file)
        os.remove(base_path)
        write_scale_doc(ceiling_result, tables["sqlite"], seeds["sqlite"], rows_by_backend["sqlite"], base)
        return
    if SMOKE or ONLY or len(BACKENDS) < 2:
        return
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), {mem_gib():.0f} GiB, {platform.platform()}"
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as doc:
        doc.write(HEADER.format(machine=machine, command="bench/run.py", groups=GROUPS, huge=HUGE,
                                tenants=TENANTS, tenant_groups=TENANT_GROUPS,
                                seed_sqlite=seeds["sqlite"], seed_postgres=seeds["postgres"],
                                threads=THREADS, connections=CONNECTIONS, duration=DURATION,
                                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
        for backend in BACKENDS:
            doc.write(f"## {TITLES[backend]}\n\n{tables[backend]}\n\n")
        doc.write(FOOTER)
    print("\nwritten to docs/benchmarks.md")


def same_row(name):
    """A row's name with its data size taken out, to find the same row at another scale."""
    return name.replace("1,000,000", "N").replace("100,000", "N")


def write_scale_doc(ceiling_result, sqlite_table, seed_seconds, rows, base):
    """docs/benchmarks-1m.md: the run at ten times the data, each row beside the same row
    of the 100,000 leg run right after it, as ratios to each leg's own ceiling (the
    host's speed drifts by up to 2.5x between runs hours apart) and as plain req/s."""
    base_ceiling = base["ceiling"]
    before = {same_row(name): result for name, result in base["rows"]}
    ceiling = ceiling_result["rps"]
    lines = ["| row | req/s at 1,000,000 | req/s at 100,000 | ratio at 1,000,000 | ratio at 100,000 | 1,000,000 / 100,000 | within 20% |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, result, _ in rows:
        earlier = before.get(same_row(name))
        if earlier is None or "of" in result or earlier["rps"] <= 0:
            continue
        now, then = result["rps"] / ceiling, earlier["rps"] / base_ceiling
        share = now / then
        lines.append(f"| {name} | {result['rps']:,.0f} | {earlier['rps']:,.0f} | {now:.3f} | {then:.3f} | {share:.2f} | {'yes' if share >= 0.8 else 'no'} |")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), {mem_gib():.0f} GiB"
    with open(os.path.join(ROOT, "docs", "benchmarks-1m.md"), "w") as doc:
        doc.write(f"""# Benchmarks at ten times the data

Generated by `bench/run.py --scale 1m` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

- Machine: {machine}.
- Data: {GROUPS:,} groups in one organization and one group of {HUGE:,} members in a
  second one, seeded through Roster's own storage layer on SQLite in {seed_seconds:.0f} s.
- Load and settings as in [benchmarks.md](benchmarks.md); SQLite only (seeding
  PostgreSQL with a million groups through the write path takes most of an hour).

## SQLite at {GROUPS:,}

{sqlite_table}

## Against the same rows at 100,000, measured right after

The 100,000 leg (`bench/run.py --scale 100k`, which the scale run starts itself) seeds
and measures the same rows with its own ceiling ({base_ceiling:,.0f} req/s; this leg's:
{ceiling:,.0f}). The ratios are to each leg's own ceiling. The target is each row within
20% of the 100,000 one.

{chr(10).join(lines)}
""")
    print("\nwritten to docs/benchmarks-1m.md")


TITLES = {"sqlite": "SQLite (embedded, the default)", "postgres": "PostgreSQL 15 (local cluster, durable settings)"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def mem_gib():
    with open("/proc/meminfo") as info:
        return int(info.readline().split()[1]) / 1024 / 1024


HEADER = """# Benchmarks

Generated by `{command}` on {date}.

- Machine: {machine}.
- Data: {groups:,} groups in one organization (1% of them match `q=needle`, one of them
  has 10 members and 2 guests), and in a second organization one group of {huge:,}
  members, and {tenants:,} more organizations of {tenant_groups} groups each for the mixed
  traffic; seeded through Roster's own storage layer (SQLite in {seed_sqlite:.0f} s,
  PostgreSQL in {seed_postgres:.0f} s).
- Load: `wrk -t{threads} -c{connections} -d{duration} --latency` for every scenario (4
  connections for the {huge:,}-member GET), against `roster serve` in release mode with the
  rate limit off. The ceiling is `roster-ceiling`: the same axum/tokio stack and release
  profile answering a fixed 10-member group from memory, measured in the same run; every
  ratio below is to that one figure.
- SQLite runs with `synchronous=FULL` (every acknowledged write is on disk); PostgreSQL is
  a throwaway local cluster with its durable defaults (`fsync`, synchronous commit) and
  Roster's default pool of 16 connections.

"""

FOOTER = """
(The sections below the tables, what the profiles say, are written by hand after a run.)
"""

if __name__ == "__main__":
    main()
