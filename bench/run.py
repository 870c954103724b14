"""The Update Index benchmark: conda-connect vs py-rattler 0.28 vs conda 24.7.1 on the same emulator-served channels.

Run through scripts/bench.sh (it builds the release binary and the Python peers). Prints a Markdown table and
writes it to bench/results.md. Medians of RUNS runs; peak RSS from /usr/bin/time -v.
"""
import json
import os
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
RECORDS = int(os.environ.get("BENCH_RECORDS", "100000"))
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="conda-connect-bench-")
HOME = os.path.join(WORK, "home")
os.makedirs(HOME)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra):
    e = {"PATH": os.environ["PATH"], "HOME": HOME, "CONDA_CONNECT_SECRETS": "file", "NO_PROXY": "*",
         "CONDARC": os.path.join(HOME, ".condarc")}
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


def median_of(fn, runs=RUNS):
    results = [fn() for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2]


# ---- data and server
gen = subprocess.run([sys.executable, os.path.join(HERE, "generate_repodata.py"), os.path.join(WORK, "channels"), str(RECORDS)],
                     capture_output=True, text=True, check=True)
data = json.loads(gen.stdout)
port = free_port()
emu = subprocess.Popen([BIN, "emulator", "--port", str(port), "--packages-dir", os.path.join(WORK, "channels")],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env())
url = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(url + "/api/system", timeout=1)
        break
    except OSError:
        time.sleep(0.05)


def emu_log():
    return json.load(urllib.request.urlopen(url + "/__emulator/log"))


rows = []
try:
    subprocess.run([BIN, "set-domain", url], env=env(), check=True, capture_output=True)
    # ---- one full login (after set-domain): requests and wall time
    logins = []
    for _ in range(RUNS):
        before = len(emu_log())
        t0 = time.perf_counter()
        subprocess.run([BIN, "login", "--username", "alice", "--password-stdin", "--skip-channels"], input="alice-password\n",
                       env=env(), check=True, capture_output=True, text=True)
        logins.append((time.perf_counter() - t0, len(emu_log()) - before))
        subprocess.run([BIN, "logout"], env=env(), check=True, capture_output=True)
    login_ms = statistics.median(l[0] for l in logins) * 1000
    login_requests = logins[-1][1]
    subprocess.run([BIN, "login", "--username", "alice", "--password-stdin", "--default-channel", "main", "--channel", "internal",
                    "--channel", "r"], input="alice-password\n", env=env(), check=True, capture_output=True, text=True)
    token = open(os.path.join(HOME, ".config", "binstar", f"http%3A%2F%2F127.0.0.1%3A{port}%2Fapi.token")).read()
    cache = os.path.join(HOME, ".cache", "conda-connect")

    def cc_cold():
        shutil.rmtree(cache, ignore_errors=True)
        w, r, out = timed([BIN, "update-index", "--json"], env=env())
        assert json.loads(out)["packages_total"] == data["records"], out[:300]
        return w, r, out

    def cc_warm():
        w, r, out = timed([BIN, "update-index", "--json"], env=env())
        assert all(c["status"] == "cached" for c in json.loads(out)["channels"]), out[:300]
        return w, r, out

    changed_file = os.path.join(WORK, "channels", "r", "noarch", "repodata.json")

    def cc_changed():
        cc_warm()
        os.utime(changed_file, None)  # a new ETag for one channel directory
        os.remove(changed_file + ".zst") if os.path.exists(changed_file + ".zst") else None
        return timed([BIN, "update-index", "--json"], env=env())

    cold = median_of(cc_cold)
    warm = median_of(cc_warm)
    changed = median_of(cc_changed)

    channel_urls = [f"{url}/api/repo/t/{token}/{c}" for c in ["main", "internal", "r"]]

    def rattler():
        d = tempfile.mkdtemp(dir=WORK)
        return timed([RATTLER_PY, os.path.join(HERE, "rattler_fetch.py"), d] + channel_urls, env=env())

    rat = median_of(rattler)

    def conda():
        pkgs = tempfile.mkdtemp(dir=WORK)
        return timed([CONDA, "search", "--json", "python"], env=env(CONDA_PKGS_DIRS=pkgs, CONDA_LOCAL_REPODATA_TTL="0"))

    con = median_of(conda, runs=int(os.environ.get("BENCH_CONDA_RUNS", str(RUNS))))
finally:
    emu.terminate()

def gui_numbers():
    """(ms from process start to the window being mapped, idle RSS MB after 3 s) under Xvfb, or None."""
    if not shutil.which("Xvfb") or not shutil.which("xdotool"):
        return None
    display = f":{70 + os.getpid() % 20}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1040x700x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    e = env(DISPLAY=display, CONDA_CONNECT_DEMO_HOME=os.path.join(WORK, "demo"))
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


try:
    gui = gui_numbers()
except Exception as e:  # the GUI numbers are a bonus: never lose the main results to them
    print(f"GUI measurement failed: {e}", file=sys.stderr)
    gui = None
subdirs = 6
rows = [
    ("conda-connect update-index, cold (empty cache)", cold),
    ("conda-connect update-index, warm (all 304)", warm),
    ("conda-connect update-index, one channel directory changed", changed),
    ("py-rattler 0.28 fetch_repo_data, cold", rat),
    ("conda 24.7.1 search (repodata fetch forced)", con),
]
lines = [
    f"{data['records']:,} records, {data['bytes'] / 1e6:.0f} MB of repodata.json in {subdirs} channel directories "
    f"(3 channels × linux-64/noarch, .zst available), emulator on loopback, medians of {RUNS} runs, this machine "
    f"({os.cpu_count()} cores).",
    "",
    "| run | median wall | vs rattler | peak RSS |",
    "|---|---|---|---|",
]
for label, (wall, rss, _) in rows:
    lines.append(f"| {label} | {wall * 1000:.0f} ms | {wall / rat[0]:.2f}× | {rss:.0f} MB |")
lines += [
    "",
    f"* one full login after set-domain: {login_requests} requests, {login_ms:.0f} ms (median) — process start to exit",
    f"* conda-connect cold vs conda: {con[0] / cold[0]:.1f}× faster",
]
if gui:
    lines.append(f"* desktop app under Xvfb (tiny-skia): window mapped {gui[0]:.0f} ms after process start (median); "
                 f"idle RSS {gui[1]:.0f} MB")
text = "\n".join(lines)
print(text)
with open(os.path.join(HERE, "results.md"), "w") as f:
    f.write(text + "\n")
