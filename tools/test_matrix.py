"""The torch-version matrix (`make test-matrix`): for each supported torch
minor, a virtual environment under build/matrix/, the build, and the full
suite (pytest + CTest) of a copy of this checkout; a table of the results.

    python tools/test_matrix.py                 # every entry of MATRIX
    python tools/test_matrix.py --only 2.15     # one entry
    python tools/test_matrix.py --setup-only    # create the venvs, nothing else
    python tools/test_matrix.py --delete-venvs  # remove each venv after its run
    python tools/test_matrix.py --ref HEAD      # a commit instead of the working tree

Results: build/matrix/results.md (the table) and results.json; each entry's
log in build/matrix/<name>/log.txt.

What it needs, and says when it is missing:
- the Python of each entry (python3.X on PATH, or pyenv's);
- torch from pip's configured sources. PyPI's torch wheels are CUDA builds
  (about 4.5 GB each with their CUDA runtime packages, which run on a machine
  without a GPU); only the CPU entry uses PyTorch's CPU wheel, which pip must
  find (a local wheel directory in pip's find-links, or TORCH_INDEX_URL).
  When pip's configuration caps torch below an entry's version (a constraints
  file, see `pip config list`), that entry is not run and the table says how
  to lift the cap for the run (PIP_CONSTRAINT=/dev/null): the matrix never
  lifts it by itself.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "matrix")

# name, torch requirement, Python, wheel kind. One Python per entry, chosen
# so that together they cover 3.10-3.13; 2.11/py3.12 is the borrowed GPU
# machines' pair.
MATRIX = [
    ("2.11", "torch==2.11.0", "3.12", "cuda"),
    ("2.12", "torch==2.12.1", "3.10", "cuda"),
    ("2.13", "torch==2.13.0+cpu", "3.11", "cpu"),
    ("2.14", "torch==2.14.1", "3.11", "cuda"),
    ("2.15", "torch==2.15.0", "3.13", "cuda"),
]



def dev_requirements():
    """requirements-dev.txt without its torch line (each entry brings its own)."""
    reqs = []
    for line in open(os.path.join(ROOT, "requirements-dev.txt")):
        req = line.split("#")[0].strip()
        if req and not re.match(r"torch\b", req):
            reqs.append(req)
    return reqs


class NotRun(Exception):
    """An entry that cannot run on this machine: the reason goes in the table."""


def log_to(path):
    f = open(path, "a")

    def log(*parts):
        line = " ".join(str(p) for p in parts)
        print(line, file=f, flush=True)
        print(line, flush=True)
    return f, log


def run(cmd, log, logfile, **kw):
    log("$", " ".join(cmd))
    return subprocess.run(cmd, stdout=logfile, stderr=subprocess.STDOUT, text=True, **kw)


def find_python(version):
    # pyenv's interpreters first: its shims on PATH fail for a version that
    # is installed but not selected.
    for candidate in (*sorted(_pyenv_pythons(version), reverse=True),
                      shutil.which(f"python{version}")):
        if candidate and os.path.exists(candidate) and subprocess.run(
                [candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    raise NotRun(f"no Python {version} (python{version} on PATH or in pyenv)")


def _pyenv_pythons(version):
    root = os.path.expanduser("~/.pyenv/versions")
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, v, "bin", "python") for v in os.listdir(root)
            if v == version or v.startswith(version + ".")]


def torch_cap():
    """The torch cap of pip's constraints file, if its configuration has one."""
    if os.environ.get("PIP_CONSTRAINT") is not None:
        path = os.environ["PIP_CONSTRAINT"]
    else:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True).stdout
        m = re.search(r"constraint='([^']+)'", out)
        path = m.group(1) if m else None
    if not path or not os.path.isfile(path):
        return None
    for line in open(path):
        m = re.match(r"\s*torch\s*(<=?)\s*([0-9.]+)", line)
        if m:
            return path, m.group(1), m.group(2)
    return None


def _release(v):
    return tuple(int(x) for x in re.match(r"[0-9.]+", v).group(0).rstrip(".").split("."))


def check_cap(requirement):
    cap = torch_cap()
    if cap is None:
        return
    path, op, bound = cap
    wanted = _release(requirement.split("==")[1])
    allowed = wanted <= _release(bound) if op == "<=" else wanted < _release(bound)
    if not allowed:
        raise NotRun(f"pip's constraints ({path}) cap torch{op}{bound}; "
                     "run with PIP_CONSTRAINT=/dev/null to install " + requirement)


def install_torch(venv_py, requirement, log, logfile, env):
    extra = []
    if os.environ.get("TORCH_INDEX_URL"):
        extra = ["--extra-index-url", os.environ["TORCH_INDEX_URL"]]
    if run([venv_py, "-m", "pip", "install", "--quiet"] + extra + [requirement],
           log, logfile, env=env).returncode != 0:
        raise NotRun(f"pip could not install {requirement} (see the log)")


def run_out(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout.strip()


def copy_checkout(dest, ref=None):
    """The checkout's tracked and untracked-but-not-ignored files (what CI's
    clone plus the working changes would have), or the tree of commit `ref`."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    if ref:
        os.makedirs(dest)
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
        return
    files = run_out(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).split("\0")
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))


def parse_pytest(text):
    m = re.findall(r"^=*\s*(.*?(?:passed|failed|error).*?) in ([0-9.]+)s", text, re.M)
    counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "error": 0}
    if m:
        for n, what in re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)", m[-1][0]):
            counts["error" if what.startswith("error") else what] = int(n)
    return counts


def parse_ctest(text):
    # "95% tests passed, 1 tests failed out of 21"; newer CTest prints
    # "100% tests passed out of 24" when none failed
    m = re.findall(r"(\d+)% tests passed(?:, (\d+) tests failed)? out of (\d+)", text)
    if not m:
        return None
    _, failed, total = m[-1]
    failed = int(failed or 0)
    return {"passed": int(total) - failed, "failed": failed}


def run_entry(name, requirement, python, kind, args):
    here = os.path.join(OUT, name)
    os.makedirs(here, exist_ok=True)
    logpath = os.path.join(here, "log.txt")
    open(logpath, "w").close()
    logfile, log = log_to(logpath)
    row = {"name": name, "requirement": requirement, "python": python, "wheel": kind,
           "log": os.path.relpath(logpath, ROOT)}
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    try:
        venv = os.path.join(here, "venv")
        venv_py = os.path.join(venv, "bin", "python")
        stamp = os.path.join(venv, ".deps")
        if not os.path.exists(stamp):
            check_cap(requirement)
            py = find_python(python)
            if os.path.exists(venv):
                shutil.rmtree(venv)
            t = time.time()
            if run([py, "-m", "venv", venv], log, logfile).returncode != 0:
                raise NotRun(f"{py} -m venv failed")
            run([venv_py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], log, logfile, env=env)
            install_torch(venv_py, requirement, log, logfile, env)
            if run([venv_py, "-m", "pip", "install", "--quiet"] + dev_requirements(),
                   log, logfile, env=env).returncode != 0:
                raise NotRun("could not install the development requirements (see the log)")
            open(stamp, "w").close()
            row["venv_s"] = round(time.time() - t)
        row["torch"] = run_out([venv_py, "-c", "import torch; print(torch.__version__)"])
        row["cuda"] = run_out([venv_py, "-c", "import torch; print(torch.version.cuda or '')"])
        row["python_full"] = run_out([venv_py, "-c", "import platform; print(platform.python_version())"])
        if args.setup_only:
            row["status"] = "venv ready"
            return row
        src = os.path.join(here, "src")
        copy_checkout(src, args.ref)
        row["tested"] = args.ref and run_out(["git", "rev-parse", "--short", args.ref], cwd=ROOT) \
            or "working tree"
        # The Makefile's own build target, with this venv: its dependency
        # stamp says the venv is ready; its build stamp is for another copy.
        os.utime(stamp)
        if os.path.exists(os.path.join(venv, ".built")):
            os.remove(os.path.join(venv, ".built"))
        make = ["make", "-C", src, f"VENV={venv}", f"MAX_JOBS={args.jobs}"]
        t = time.time()
        r = run(make + ["build"], log, logfile, env=env)
        row["build_s"] = round(time.time() - t)
        if r.returncode != 0:
            row["status"] = "build failed"
            return row
        t = time.time()
        out = subprocess.run([venv_py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                             cwd=src, env=env, capture_output=True, text=True)
        logfile.write(out.stdout + out.stderr)
        row["pytest"] = parse_pytest(out.stdout)
        row["pytest_s"] = round(time.time() - t)
        t = time.time()
        out = subprocess.run(["ctest", "--output-on-failure"], cwd=os.path.join(src, "build-cpp"),
                             env={**env, "PATH": os.path.join(venv, "bin") + os.pathsep + env["PATH"]},
                             capture_output=True, text=True)
        logfile.write(out.stdout + out.stderr)
        row["ctest"] = parse_ctest(out.stdout)
        row["ctest_s"] = round(time.time() - t)
        ok = (row["pytest"]["failed"] == 0 and row["pytest"]["error"] == 0
              and row["pytest"]["passed"] > 0 and row["ctest"] and row["ctest"]["failed"] == 0)
        row["status"] = "passed" if ok else "failed"
        # the 1-minute load at the end and the 15-minute one (the run's own
        # build and tests included): 2 means both cores were busy
        row["loadavg"] = [os.getloadavg()[0], os.getloadavg()[2]]
    except NotRun as e:
        row["status"] = "not run: " + str(e)
        log(row["status"])
    finally:
        logfile.close()
        if args.delete_venvs and not args.setup_only:
            shutil.rmtree(os.path.join(here, "venv"), ignore_errors=True)
    return row


def render(rows):
    lines = [
        "| torch | Python | wheel | build | pytest passed / failed / skipped | CTest passed / failed | result | tested | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        torch_v = r.get("torch", r["requirement"].split("==")[1])
        wheel = r["wheel"] if not r.get("cuda") else f"cuda {r['cuda']}"
        py = r.get("python_full", r["python"])
        build = f"{r['build_s']} s" if "build_s" in r else ""
        p = r.get("pytest")
        pytest_s = f"{p['passed']} / {p['failed'] + p['error']} / {p['skipped']} ({r['pytest_s']} s)" if p else ""
        c = r.get("ctest")
        ctest_s = f"{c['passed']} / {c['failed']} ({r['ctest_s']} s)" if c else ""
        load = r.get("loadavg")
        load_s = f"{load[0]:.1f} / {load[1]:.1f}" if load else ""
        lines.append(f"| {torch_v} | {py} | {wheel} | {build} | {pytest_s} | {ctest_s} | {r['status']} "
                     f"| {r.get('tested', '')} {r.get('date', '')} | {load_s} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="entry name (2.11 ... 2.15); repeatable")
    parser.add_argument("--setup-only", action="store_true", help="create the venvs only")
    parser.add_argument("--delete-venvs", action="store_true", help="remove each venv after its run")
    parser.add_argument("--jobs", default=os.environ.get("MAX_JOBS", "2"))
    parser.add_argument("--ref", help="test this commit (git archive) instead of the working tree")
    args = parser.parse_args()
    entries = [e for e in MATRIX if not args.only or e[0] in args.only]
    if not entries:
        parser.error(f"no entry named {args.only}; entries: {[e[0] for e in MATRIX]}")
    os.makedirs(OUT, exist_ok=True)
    results_json = os.path.join(OUT, "results.json")
    previous = {}
    if os.path.exists(results_json):
        previous = {r["name"]: r for r in json.load(open(results_json))}
    this_run = []
    for entry in entries:
        row = run_entry(*entry, args)
        row["date"] = time.strftime("%Y-%m-%d %H:%M")
        # another run may have written rows meanwhile: merge with the file
        if os.path.exists(results_json):
            previous = {**{r["name"]: r for r in json.load(open(results_json))}, **{
                r["name"]: r for r in this_run}}
        previous[row["name"]] = row
        this_run.append(row)
        rows = [previous[e[0]] for e in MATRIX if e[0] in previous]
        json.dump(rows, open(results_json, "w"), indent=1)
        open(os.path.join(OUT, "results.md"), "w").write(render(rows))
    print(open(os.path.join(OUT, "results.md")).read())
    failed = [r for r in this_run if r["status"] not in ("passed", "venv ready")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
