#!/usr/bin/env python3
"""Writes tools/bench/prefcenter/RESULTS.md (to stdout) from run.sh's runs and RSS samples."""
import argparse
import json
import statistics
import subprocess

NAMES = {
    "a": "POST /__bench/static (baseline for b)",
    "b": "one-click POST /u/{token}",
    "c": "RecordDecisions straight to consentd (gRPC)",
    "d": "GET /__bench/static (baseline for e)",
    "e": "GET /p/{token} (preference-center page)",
    "f": "GET /__bench/static, 1 caller, pinned",
    "g": "GET /p/{token}, 1 caller, pinned",
    "s": "soak: pages and one-clicks alternately",
}
ORDER = "defgabcs"
# The soak is judged on its second half: the first fills caches, allocator arenas and the per-link
# rate-limit table, which keeps up to 100,000 links (http::RateLimiterOptions::max_keys, about
# 10 MiB), and every one-click here is a new link.
SOAK_WARMUP_FRACTION = 0.5
FLAT_LIMIT_PCT = 5.0
# A static reply slower than this at p50 is stalled by the HTTP edge itself (ANALYSIS.md).
STALLED_BASELINE_US = 20000

p = argparse.ArgumentParser()
for flag in ("runs", "rss", "command", "commit", "seed", "callers", "load-before", "load-after"):
    p.add_argument("--" + flag, required=True)
args = p.parse_args()

rows = [json.loads(line) for line in open(args.runs)]
rss = [(float(t), int(k)) for t, k in (line.split() for line in open(args.rss) if line.strip())]
seed = json.loads(args.seed)
med = statistics.median


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def pick(label):
    return [r for r in rows if r["label"] == label]


def ratios(num, den):
    """Per round: num's req/s over den's."""
    by_round = {r["round"]: r["rps"] for r in pick(den)}
    return [r["rps"] / by_round[r["round"]] for r in pick(num) if by_round.get(r["round"])]


def cpu(r, name):
    v = r["cpu_us_per_req"].get(name)
    return "-" if v is None or (name != "load" and v == 0) else f"{v:.0f}"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def span_text(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def rss_at(t):
    """The sample nearest to unix time t."""
    return min(rss, key=lambda s: abs(s[0] - t))[1] if rss else 0


cpu_model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
others = [r["others_pct"] for r in rows if r.get("others_pct") is not None]
out = print

out("# Preference center load: prefcenter against baselines in the same run\n")
out(f"Command: `{args.command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu_model}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; "
    f"commit {args.commit}.\n")
if others:
    disturbed = [x for x in others if x > 10]
    note = ""
    if med(others) > 5:
        note = (" **The machine was not quiet: absolute figures are low and noisy; ratios within "
                "a round are the better guide, and a rerun on a quiet machine is the one to "
                "keep.**")
    elif disturbed:
        note = (f" {len(disturbed)} of {len(others)} runs shared the machine with other work "
                "(others % above 10); their figures are the less reliable.")
    out(f"Other work on the machine: load average {args.load_before} before the run and "
        f"{args.load_after} after; processes other than the three measured used a median "
        f"{med(others):.0f} % (at most {max(others):.0f} %) of all cores during the measured "
        "windows (`others %` below)." + note + "\n")

out("**How the cores are shared.** Throughput runs (N callers) leave the load generator, "
    "prefcenter and consentd unpinned on all cores, at the same priority, as "
    "tools/bench/load does for throughput; so every figure includes the load generator's own "
    "CPU competing with the services', the same handicap for a scenario and its baseline, and "
    "the CPU each process spent per request is shown so that the split can be read. The "
    "latency pair (f, g: one caller) pins the load generator to CPU 0 and both services, every "
    "thread, to CPU 1 (`taskset`), so that the page-render latency is the services' own.\n")
out(f"**Setup.** `prefcenter_load` (C++, this directory) runs {args.callers} caller threads "
    "(1 in f and g), each making one request at a time for the measured window after a "
    "warm-up; only requests completing inside the window count. HTTP callers use "
    "`httplib::Client` with keep-alive (one connection each, reopened whenever the server "
    "closes it: `conns` counts connections opened); the direct gRPC callers share one "
    "channel, as prefcenter's own calls to consentd do. prefcenter runs with its rate limits "
    "raised out of the way and one HTTP worker thread per caller (httplib holds a thread per "
    "open connection); `/__bench/static` answers \"ok\" from the same server and is the HTTP "
    "baseline. Every one-click uses its own pre-minted v2 "
    "token for its own subject (EMAIL channel), so each records a new WITHDRAWN decision (no "
    "idempotent replay); (c) sends consentd the request prefcenter sends for it (subject, one "
    "WITHDRAWN decision on purpose + channel, source email-one-click, actor, evidence with "
    "address and user agent, idempotency key), each for a new subject. Before the runs the "
    f"catalog is seeded over gRPC (tenant bench; marketing.newsletter, MARKETING, on EMAIL and "
    f"SMS with an English notice text; a default policy) and {seed['page_subjects']} page "
    "subjects get three writes each (grant EMAIL and SMS, withdraw SMS, grant SMS): (e) reads "
    "their pages round-robin (each page: GetSubjectState and ListHistory from consentd, the "
    "catalog from prefcenter's cache, then the render). consentd runs with its defaults (every "
    "write fsync'ed). Order: the page pairs (d, e), the latency pairs (f, g), then the write "
    "triples (a, b, c), so that the writes' flushes and compactions do not fall on the reads; "
    "each round alternates which goes first. CPU us/req is utime+stime from /proc/PID/stat over "
    "the window (10 ms resolution) divided by the requests.\n")

out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")


def line(target, measured, met):
    out(f"| {target} | {measured} | {'-' if met is None else 'MET' if met else 'MISSED'} |")


bc, ba, ed = ratios("b", "c"), ratios("b", "a"), ratios("e", "d")
if bc:
    line("One-click through prefcenter >= 80 % of the same writes sent to consentd directly (b/c)",
         f"{med(bc):.1%} (median of {len(bc)} rounds: "
         f"{', '.join(f'{x:.1%}' for x in bc)})", med(bc) >= 0.80)
stalled = [r for r in rows if r["label"] in "adf" and r["p50_us"] > STALLED_BASELINE_US]
if ed:
    line("Preference-center page >= 50 % of the static GET (e/d)",
         f"{med(ed):.1%} (median of {len(ed)} rounds: {', '.join(f'{x:.1%}' for x in ed)})"
         + (" - but see the note below the table" if stalled else ""),
         med(ed) >= 0.50)
if ba:
    line("(no target) One-click against the static POST on the same server (b/a)",
         f"{med(ba):.1%}", None)
if pick("e"):
    line(f"(no target) Page latency at {args.callers} callers (e)",
         f"p50 {med(r['p50_us'] for r in pick('e')):.0f} us, "
         f"p99 {med(r['p99_us'] for r in pick('e')):.0f} us", None)
if pick("g"):
    line("(no target) Page render latency, 1 caller, pinned (g; static GET f)",
         f"p50 {med(r['p50_us'] for r in pick('g')):.0f} us, "
         f"p99 {med(r['p99_us'] for r in pick('g')):.0f} us "
         f"(static: p50 {med(r['p50_us'] for r in pick('f')):.0f} us, "
         f"p99 {med(r['p99_us'] for r in pick('f')):.0f} us)", None)
if rss:
    line("(no target) prefcenter resident memory over the whole run",
         f"start {mib(rss[0][1])}, end {mib(rss[-1][1])}, max {mib(max(k for _, k in rss))}",
         None)
soak = pick("s")
soak_result = None
if soak and rss:
    s = soak[0]
    span = s["end"] - s["start"]
    ref_t = s["start"] + SOAK_WARMUP_FRACTION * span
    ref, end = rss_at(ref_t), rss_at(s["end"])
    growth = 100.0 * (end - ref) / ref if ref else 0.0
    after = [(t, k) for t, k in rss if ref_t <= t <= s["end"]]
    slope = None
    if len(after) >= 3:  # least-squares MiB per hour
        mt = statistics.fmean(t for t, _ in after)
        mk = statistics.fmean(k for _, k in after)
        den = sum((t - mt) ** 2 for t, _ in after)
        if den > 0:
            slope = sum((t - mt) * (k - mk) for t, k in after) / den * 3600 / 1024
    soak_result = (ref, end, growth, slope, span)
    line(f"prefcenter RSS flat over a {span_text(span)} soak (end within {FLAT_LIMIT_PCT:.0f} % of "
         f"the RSS after its first {SOAK_WARMUP_FRACTION:.0%})",
         f"{mib(ref)} -> {mib(end)} ({growth:+.1f} %"
         + (f"; trend {slope:+.1f} MiB/hour" if slope is not None else "") + ")",
         abs(growth) <= FLAT_LIMIT_PCT)

if stalled:
    stall_ms = med(r["p50_us"] for r in stalled) / 1000
    out(f"\n**The static baselines themselves take {stall_ms:.0f} ms at p50**, for a handler "
        "that answers \"ok\": every HTTP response of this server waits for something other "
        "than its handler (before 538e7ea: Nagle's algorithm on the server's sockets against "
        "the client's delayed ACK, ANALYSIS.md). Scenario and baseline are "
        "stalled alike, so a ratio against the static baseline hides prefcenter's own cost; "
        "compare the CPU per request instead.")

out("\n## Every run\n")
out("| | Scenario | Round | Callers | Requests | Errors | Req/s | p50 us | p99 us | p99.9 us "
    "| prefcenter CPU us/req | consentd CPU us/req | load gen CPU us/req | conns | others % |")
out("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (ORDER.index(r["label"]), r["round"])):
    out(f"| {r['label']} | {NAMES[r['label']]} | {r['round']} | {r['callers']} | {r['requests']} | "
        f"{r['errors']} | {r['rps']:.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | "
        f"{r['p999_us']:.0f} | {cpu(r, 'prefcenter')} | {cpu(r, 'consentd')} | {cpu(r, 'load')} | "
        f"{r['connections'] or '-'} | {r.get('others_pct', '-')} |")
    for kind, k in sorted(r.get("by_kind", {}).items()):
        out(f"| | &nbsp;&nbsp;of which {kind} | | | {k['requests']} | {k['errors']} | "
            f"{k['rps']:.0f} | {k['p50_us']:.0f} | {k['p99_us']:.0f} | {k['p999_us']:.0f} "
            "| | | | | |")

out("\n## Medians\n")
out("| | Scenario | Req/s | p50 us | p99 us | p99.9 us | prefcenter CPU us/req "
    "| consentd CPU us/req | response bytes |")
out("|---|---|---|---|---|---|---|---|---|")
for label in ORDER:
    rs = pick(label)
    if not rs or label == "s":
        continue

    def m(key, name=None):
        vals = [r["cpu_us_per_req"].get(name) if name else r[key] for r in rs]
        vals = [v for v in vals if v is not None]
        return med(vals) if vals else 0
    out(f"| {label} | {NAMES[label]} | {m('rps'):.0f} | {m('p50_us'):.0f} | {m('p99_us'):.0f} | "
        f"{m('p999_us'):.0f} | {m(None, 'prefcenter'):.0f} | {m(None, 'consentd'):.0f} | "
        f"{m('avg_body_bytes'):.0f} |")

if rss:
    out("\n## prefcenter's resident memory\n")
    out(f"VmRSS from /proc/PID/status every second, {len(rss)} samples: at the start "
        f"(serving, before the first run) {mib(rss[0][1])}, at the end {mib(rss[-1][1])}, "
        f"at most {mib(max(k for _, k in rss))}. After each run:\n")
    out("| Run | VmRSS at its end |\n|---|---|")
    for r in sorted(rows, key=lambda r: r["end"]):
        out(f"| {r['label']} round {r['round']} | {mib(rss_at(r['end']))} |")
if soak_result:
    ref, end, growth, slope, span = soak_result
    s = soak[0]
    one_click_rps = s.get("by_kind", {}).get("one-click", {}).get("rps", 0)
    out(f"\nSoak: {span_text(span)} of pages and one-clicks alternately, {s['callers']} "
        f"callers, {s['rps']:.0f} requests/s, {s['errors']} errors. RSS after the first "
        f"{SOAK_WARMUP_FRACTION:.0%} {mib(ref)}, at the end {mib(end)} ({growth:+.1f} %). "
        "The soak is judged on its second half: the first fills caches, allocator arenas and "
        "prefcenter's per-link rate-limit table, which keeps up to 100,000 links (about 10 MiB; "
        f"every one-click here is a new link, {one_click_rps:.0f} a second). Samples over the "
        "soak:\n")
    out("| Into the soak | VmRSS |\n|---|---|")
    for i in range(11):
        t = s["start"] + span * i / 10
        out(f"| {span_text(t - s['start'])} | {mib(rss_at(t))} |")

out("\nWhere the time goes, what was tried and what would help: [ANALYSIS.md](ANALYSIS.md).")
