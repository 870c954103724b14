"""The Update Index benchmark: conda-connect vs py-rattler 0.28 vs conda 24.7.1 on the same emulator-served channels,
at every scale in BENCH_RECORDS (default "100000,1000000"), each with its targets marked met or not met.

Run through scripts/bench.sh (it builds the release binary and the Python peers). Prints Markdown and writes it into
docs/benchmarks.md, replacing what stands between the markers <!-- bench:results:begin --> and
<!-- bench:results:end --> (the page's results are generated, never copied by hand). Medians of BENCH_RUNS runs
(default 5; BENCH_RUNS_LARGE, default 3, above 500,000 records); conda runs BENCH_CONDA_RUNS times at the first scale
and once at larger ones (it takes half a minute at 1M). Peak RSS from /usr/bin/time -v; wall time is process start
to exit.
"""
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN, CONDA, RATTLER_PY = sys.argv[1], sys.argv[2], sys.argv[3]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
RUNS_LARGE = int(os.environ.get("BENCH_RUNS_LARGE", "3"))
SCALES = [int(x) for x in os.environ.get("BENCH_RECORDS", "100000,1000000").split(",") if x.strip()]
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="conda-connect-bench-")
CHANNELS = ["main", "internal", "r"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(home, **extra):
    e = {"PATH": os.environ["PATH"], "HOME": home, "CONDA_CONNECT_SECRETS": "file", "NO_PROXY": "*",
         "CONDARC": os.path.join(home, ".condarc")}
    e.update(extra)
    return e


def timed(cmd, **kw):
    """(wall seconds, peak RSS MB, stdout) of one run under /usr/bin/time -v."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - start
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    if p.returncode != 0 and "conda" not in cmd[0]:
        sys.exit(f"failed: {cmd}\n{p.stdout}\n{p.stderr}")
    return wall, (int(m.group(1)) / 1024 if m else float("nan")), p.stdout


def median_of(fn, runs):
    results = [fn() for _ in range(runs)]
    order = sorted(range(len(results)), key=lambda i: results[i][0])
    mid = results[order[len(order) // 2]]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), mid[2]


def hide_zst(channels_dir, hide):
    """Move every repodata.json.zst aside (hide=True) or back: the server then has plain JSON only."""
    for ch in CHANNELS:
        for sd in ["linux-64", "noarch"]:
            z = os.path.join(channels_dir, ch, sd, "repodata.json.zst")
            if hide and os.path.exists(z):
                os.rename(z, z + ".hidden")
            elif not hide and os.path.exists(z + ".hidden"):
                os.rename(z + ".hidden", z)


RESULTS_DOC = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.md")
RESULTS_BEGIN = "<!-- bench:results:begin -->"
RESULTS_END = "<!-- bench:results:end -->"


def write_results(text):
    """Put `text` between the results markers of docs/benchmarks.md (each must be there once), atomically."""
    with open(RESULTS_DOC, encoding="utf-8") as f:
        doc = f.read()
    if doc.count(RESULTS_BEGIN) != 1 or doc.count(RESULTS_END) != 1 or doc.index(RESULTS_BEGIN) > doc.index(RESULTS_END):
        sys.exit(f"{RESULTS_DOC}: expected {RESULTS_BEGIN} and then {RESULTS_END}, once each; "
                 "the results printed above were not written")
    start = doc.index(RESULTS_BEGIN) + len(RESULTS_BEGIN)
    end = doc.index(RESULTS_END)
    tmp = RESULTS_DOC + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(doc[:start] + "\n\n" + text + "\n\n" + doc[end:])
    os.replace(tmp, RESULTS_DOC)
    print(f"results written to {RESULTS_DOC}", file=sys.stderr)


def bench_scale(records, first):
    runs = RUNS if records <= 500_000 else RUNS_LARGE
    home = os.path.join(WORK, f"home-{records}")
    os.makedirs(home)
    channels_dir = os.path.join(WORK, f"channels-{records}")
    t0 = time.perf_counter()
    gen = subprocess.run([sys.executable, os.path.join(HERE, "generate_repodata.py"), channels_dir, str(records)],
                         capture_output=True, text=True, check=True)
    data = json.loads(gen.stdout)
    print(f"[{records:,}] data generated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    port = free_port()
    emu = subprocess.Popen([BIN, "emulator", "--port", str(port), "--packages-dir", channels_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(home))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/api/system", timeout=1)
            break
        except OSError:
            time.sleep(0.05)

    def emu_log():
        return json.load(urllib.request.urlopen(url + "/__emulator/log"))

    out = {"scale": records, "records": data["records"], "bytes": data["bytes"], "zst_bytes": data.get("zst_bytes", 0), "runs": runs}
    try:
        e = env(home)
        subprocess.run([BIN, "set-domain", url], env=e, check=True, capture_output=True)
        if first:
            # ---- one full login (after set-domain): requests and wall time
            logins = []
            for _ in range(runs):
                before = len(emu_log())
                t = time.perf_counter()
                subprocess.run([BIN, "login", "--username", "alice", "--password-stdin", "--skip-channels"],
                               input="alice-password\n", env=e, check=True, capture_output=True, text=True)
                logins.append((time.perf_counter() - t, len(emu_log()) - before))
                subprocess.run([BIN, "logout"], env=e, check=True, capture_output=True)
            out["login_ms"] = statistics.median(l[0] for l in logins) * 1000
            out["login_requests"] = logins[-1][1]
        subprocess.run([BIN, "login", "--username", "alice", "--password-stdin", "--default-channel", "main",
                        "--channel", "internal", "--channel", "r"], input="alice-password\n", env=e, check=True,
                       capture_output=True, text=True)
        if first:
            # ---- doctor: every check, read-only, over loopback (target: under 2 s)
            def doctor():
                # exit 1 is a finding (the generated index lists package files the emulator does not serve), not a
                # failure of the run
                p = subprocess.run(["/usr/bin/time", "-v", BIN, "doctor", "--json"], env=e, capture_output=True, text=True)
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
                json.loads(p.stdout)
                return None, (int(m.group(1)) / 1024 if m else float("nan")), p.stdout

            def doctor_timed():
                t = time.perf_counter()
                _, r, o = doctor()
                return time.perf_counter() - t, r, o

            out["doctor"] = median_of(doctor_timed, runs)
            out["doctor_checks"] = len(json.loads(out["doctor"][2])["checks"])
        token = open(os.path.join(home, ".config", "binstar", f"http%3A%2F%2F127.0.0.1%3A{port}%2Fapi.token")).read()
        cache = os.path.join(home, ".cache", "conda-connect")

        def cc_cold():
            shutil.rmtree(cache, ignore_errors=True)
            w, r, o = timed([BIN, "update-index", "--json"], env=e)
            assert json.loads(o)["packages_total"] == data["records"], o[:300]
            return w, r, o

        def cc_warm():
            w, r, o = timed([BIN, "update-index", "--json"], env=e)
            assert all(c["status"] == "cached" for c in json.loads(o)["channels"]), o[:300]
            return w, r, o

        changed = os.path.join(channels_dir, "r", "noarch", "repodata.json")

        def touch_one():
            for f in [changed, changed + ".zst"]:
                if os.path.exists(f):
                    os.utime(f, None)  # a new ETag for one channel directory

        def cc_changed():
            cc_warm()
            touch_one()
            w, r, o = timed([BIN, "update-index", "--json"], env=e)
            statuses = sorted(c["status"] for c in json.loads(o)["channels"])
            assert statuses == ["cached"] * 5 + ["ok"], statuses
            return w, r, o

        out["cc_cold"] = median_of(cc_cold, runs)
        out["cc_warm"] = median_of(cc_warm, runs)
        out["cc_changed"] = median_of(cc_changed, runs)
        hide_zst(channels_dir, True)
        out["cc_cold_plain"] = median_of(cc_cold, runs)
        hide_zst(channels_dir, False)

        channel_urls = [f"{url}/api/repo/t/{token}/{c}" for c in CHANNELS]
        rattler_cache = os.path.join(WORK, f"rattler-{records}")

        def rattler(fresh):
            if fresh:
                shutil.rmtree(rattler_cache, ignore_errors=True)
            return timed([RATTLER_PY, os.path.join(HERE, "rattler_fetch.py"), rattler_cache] + channel_urls, env=e)

        out["rat_cold"] = median_of(lambda: rattler(True), runs)
        out["rat_warm"] = median_of(lambda: rattler(False), runs)

        def rat_changed():
            rattler(False)
            touch_one()
            return rattler(False)

        out["rat_changed"] = median_of(rat_changed, runs)
        hide_zst(channels_dir, True)
        out["rat_cold_plain"] = median_of(lambda: rattler(True), runs)
        hide_zst(channels_dir, False)

        def conda():
            pkgs = tempfile.mkdtemp(dir=WORK)
            return timed([CONDA, "search", "--json", "python"], env=env(home, CONDA_PKGS_DIRS=pkgs, CONDA_LOCAL_REPODATA_TTL="0"))

        conda_runs = int(os.environ.get("BENCH_CONDA_RUNS", str(runs))) if first else 1
        out["conda"] = median_of(conda, conda_runs)
        out["conda_runs"] = conda_runs
    finally:
        emu.terminate()
        emu.wait()
    shutil.rmtree(channels_dir, ignore_errors=True)
    return out


def gui_numbers():
    """(ms from process start to the window being mapped, idle RSS MB after 3 s) under Xvfb, or None."""
    if not shutil.which("Xvfb") or not shutil.which("xdotool"):
        return None
    display = f":{70 + os.getpid() % 20}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1040x700x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    e = env(WORK, DISPLAY=display, CONDA_CONNECT_DEMO_HOME=os.path.join(WORK, "demo"))
    for _ in range(100):
        if subprocess.run(["xdotool", "getmouselocation"], env=e, capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    firsts, rss = [], 0.0
    try:
        for _ in range(RUNS):
            t0 = time.perf_counter()
            log = open(os.path.join(WORK, "demo.log"), "a")
            app = subprocess.Popen([BIN, "demo"], env=e, stdout=subprocess.DEVNULL, stderr=log)
            while time.perf_counter() - t0 < 10:
                r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^conda-connect"], env=e, capture_output=True)
                if r.stdout.strip():
                    break
                time.sleep(0.005)
            firsts.append((time.perf_counter() - t0) * 1000)
            time.sleep(3)
            if app.poll() is not None:
                print("desktop app exited early:", open(os.path.join(WORK, "demo.log")).read()[-500:], file=sys.stderr)
                return None
            with open(f"/proc/{app.pid}/status") as f:
                rss = max(rss, int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024)
            app.terminate()
            app.wait()
    finally:
        xvfb.terminate()
    return statistics.median(firsts), rss



results = [bench_scale(n, i == 0) for i, n in enumerate(SCALES)]
try:
    gui = gui_numbers()
except Exception as e:  # the GUI numbers are a bonus: never lose the main results to them
    print(f"GUI measurement failed: {e}", file=sys.stderr)
    gui = None


def met(ok):
    return "met" if ok else "**not met**"


cpu = platform.processor() or platform.machine()
try:
    with open("/proc/cpuinfo") as f:
        cpu = re.search(r"model name\s*:\s*(.+)", f.read()).group(1).strip()
except (OSError, AttributeError):
    pass
lines = [f"Machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; emulator on loopback; "
         "wall = process start to exit; peak RSS from /usr/bin/time -v.", ""]
targets = []
for r in results:
    n, rat = r["records"], r["rat_cold"][0]
    lines += [
        f"### {n:,} records",
        "",
        f"{r['bytes'] / 1e6:.0f} MB of repodata.json ({r['zst_bytes'] / 1e6:.0f} MB as .zst) in 6 channel directories "
        f"(3 channels × linux-64/noarch), medians of {r['runs']} runs (conda: {r['conda_runs']}).",
        "",
        "| run | conda-connect | peak RSS | py-rattler 0.28 | peak RSS | conda-connect / rattler |",
        "|---|---|---|---|---|---|",
    ]
    for label, cc, ra in [("cold, .zst served", "cc_cold", "rat_cold"), ("cold, plain JSON only", "cc_cold_plain", "rat_cold_plain"),
                          ("warm (all 304)", "cc_warm", "rat_warm"), ("one of six directories changed", "cc_changed", "rat_changed")]:
        a, b = r[cc], r[ra]
        lines.append(f"| {label} | {a[0] * 1000:.0f} ms | {a[1]:.0f} MB | {b[0] * 1000:.0f} ms | {b[1]:.0f} MB | {a[0] / b[0]:.2f}× |")
    lines.append(f"| conda 24.7.1 search (repodata fetch forced) | | | | | {r['conda'][0] * 1000:.0f} ms, {r['conda'][1]:.0f} MB |")
    phases = json.loads(r["cc_cold"][2]).get("phases_ms", {})
    if phases:
        lines += ["", "conda-connect cold, where the work went (summed over the 6 concurrent directories): "
                  + ", ".join(f"{k.replace('_ms', '').replace('_', ' ')} {v} ms" for k, v in phases.items())
                  + f"; conda-connect cold vs conda: {r['conda'][0] / r['cc_cold'][0]:.1f}× faster."]
    lines.append("")
    cold, warm, changed = r["cc_cold"], r["cc_warm"], r["cc_changed"]
    share = warm[0] + (cold[0] - warm[0]) / 6
    if r["scale"] >= 1_000_000:
        targets += [
            (f"cold {n:,}: ≤ 0.6× rattler's time", f"{cold[0] * 1000:.0f} ms vs {rat * 1000:.0f} ms = {cold[0] / rat:.2f}×", cold[0] <= 0.6 * rat),
            (f"cold {n:,}: peak RSS ≤ 300 MB", f"{cold[1]:.0f} MB (rattler {r['rat_cold'][1]:.0f} MB)", cold[1] <= 300),
            (f"warm {n:,}: ≤ 100 ms", f"{warm[0] * 1000:.0f} ms", warm[0] <= 0.100),
            (f"warm {n:,}: ≤ 60 MB", f"{warm[1]:.0f} MB", warm[1] <= 60),
        ]
    else:
        targets += [
            (f"cold {n:,}: ≤ 0.6× rattler's time", f"{cold[0] * 1000:.0f} ms vs {rat * 1000:.0f} ms = {cold[0] / rat:.2f}×", cold[0] <= 0.6 * rat),
            (f"warm {n:,}: ≤ 30 ms", f"{warm[0] * 1000:.0f} ms", warm[0] <= 0.030),
        ]
    targets.append((f"one changed directory of six, {n:,}: ≤ 1.5× (warm + a sixth of cold − warm)",
                    f"{changed[0] * 1000:.0f} ms vs {share * 1000:.0f} ms", changed[0] <= 1.5 * share))
    targets.append((f"≥ 10× faster than conda, {n:,}", f"{r['conda'][0] / cold[0]:.1f}×", r["conda"][0] >= 10 * cold[0]))
first = results[0]
if "login_ms" in first:
    lines.append(f"* one full login after set-domain: {first['login_requests']} requests, {first['login_ms']:.0f} ms (median) — process start to exit")
    targets.append(("≤ 5 requests for one login after set-domain", str(first["login_requests"]), first["login_requests"] <= 5))
if "doctor" in first:
    d = first["doctor"]
    lines.append(f"* doctor (signed in, 3 channels): {first['doctor_checks']} checks in {d[0] * 1000:.0f} ms (median), peak RSS {d[1]:.0f} MB")
    targets.append(("doctor on loopback < 2 s", f"{d[0] * 1000:.0f} ms", d[0] < 2.0))
if gui:
    lines.append(f"* desktop app under Xvfb (tiny-skia): window mapped {gui[0]:.0f} ms after process start (median); "
                 f"idle RSS {gui[1]:.0f} MB")
    targets.append(("process start to first frame ≤ 250 ms", f"{gui[0]:.0f} ms", gui[0] <= 250))
    targets.append(("app idle RSS ≤ 80 MB", f"{gui[1]:.0f} MB", gui[1] <= 80))
lines += ["", "| target | result | |", "|---|---|---|"]
lines += [f"| {t} | {res} | {met(ok)} |" for t, res, ok in targets]
text = "\n".join(lines)
print(text)
write_results(text)
