"""The torch-free half of the real-model suite: per-round ratio statistics,
the one-line form of an error, and the supervisor that runs a model's worker
process under per-phase time limits.

The supervisor and the worker talk over a pipe (the worker's `--event-fd`),
one JSON object per line:

    {"ev": "begin", "variant": V, "phase": P, "limit_s": L}   P runs now; kill after L s
    {"ev": "end", "variant": V, "phase": P}
    {"ev": "result", "result": {...}}                        the model's results

A phase that does not end within its limit, or a worker that dies inside
one (a crash, an abort), marks the phase's variant as failed ("did not
finish in L s" / "fails: crashed ..."), and the worker is started again
with that variant skipped. Everything else (a Python exception in a variant)
the worker catches and reports itself in its result.
"""
import json
import os
import select
import signal
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence


# ---------------------------------------------------------------- statistics --


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default), 0 <= q <= 1."""
    v = sorted(values)
    if not v:
        raise ValueError("quantile of no values")
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def ratio_stats(samples: Sequence[float], baseline: Sequence[float]) -> Optional[dict]:
    """The per-round (paired) ratios samples[r] / baseline[r] and their
    median, quartiles and range. None when either side has no samples (a
    variant that failed). Rounds are paired by index: both lists must come
    from the same rounds."""
    if not samples or not baseline:
        return None
    if len(samples) != len(baseline):
        raise ValueError(f"unpaired samples: {len(samples)} rounds against {len(baseline)}")
    ratios = [s / b for s, b in zip(samples, baseline)]
    return {"median": statistics.median(ratios), "p25": quantile(ratios, 0.25),
            "p75": quantile(ratios, 0.75), "min": min(ratios), "max": max(ratios),
            "per_round": ratios}


def rotate(names: Sequence[str], r: int) -> List[str]:
    """Round r's calling order: the list rotated by r, so every variant runs
    first, second, ... equally often over len(names) rounds."""
    names = list(names)
    if not names:
        return []
    k = r % len(names)
    return names[k:] + names[:k]


# -------------------------------------------------------------------- errors --

_INTERPRETER = "The following operation failed in the TorchScript interpreter"


def first_line(error) -> str:
    """The line that says what went wrong. For most errors the first line of
    the message; a TorchScript interpreter error starts with a fixed header
    and a traceback, its own message is the last line ("RuntimeError: bad
    optional access")."""
    text = str(error).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else "(no message)"
    if lines[0].startswith(_INTERPRETER):
        return lines[-1]
    line = lines[0]
    if isinstance(error, BaseException) and not line.startswith(type(error).__name__):
        line = f"{type(error).__name__}: {line}"
    return line


def failure_text(kind: str, detail: str = "", limit_s: Optional[float] = None) -> str:
    """The cell text of a failure: "fails: <first line>" or "did not finish
    in N s"."""
    if kind == "timeout":
        return f"did not finish in {limit_s:g} s"
    return f"fails: {detail}"


# ---------------------------------------------------------------- supervisor --


class WorkerOutcome:
    """What one worker process did: its events, its result (None if it never
    sent one), and how it ended."""

    def __init__(self):
        self.events: List[dict] = []
        self.result: Optional[dict] = None
        self.returncode: Optional[int] = None
        self.killed_in: Optional[dict] = None   # the "begin" event whose limit ran out
        self.died_in: Optional[dict] = None     # the open "begin" event when it died
        self.wall_s = 0.0


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_worker(argv: List[str], log_path: str, idle_limit_s: float = 600.0,
               env: Optional[dict] = None, cwd: Optional[str] = None,
               on_event: Optional[Callable[[dict], None]] = None) -> WorkerOutcome:
    """Run one worker (argv gets `--event-fd N` appended) in a process group of
    its own, its stdout and stderr to log_path, and enforce each phase's
    limit. Between phases (no phase open) `idle_limit_s` applies."""
    out = WorkerOutcome()
    rfd, wfd = os.pipe()
    t0 = time.monotonic()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv + ["--event-fd", str(wfd)], stdout=log, stderr=subprocess.STDOUT,
                                pass_fds=(wfd,), env=env, cwd=cwd, start_new_session=True)
    os.close(wfd)
    open_phase: Optional[dict] = None
    deadline = time.monotonic() + idle_limit_s
    buf = b""
    eof = False
    try:
        while not eof:
            wait = deadline - time.monotonic()
            if wait <= 0:
                out.killed_in = open_phase or {"ev": "begin", "variant": None, "phase": "idle",
                                               "limit_s": idle_limit_s}
                _kill_group(proc)
                break
            ready, _, _ = select.select([rfd], [], [], min(wait, 5.0))
            if not ready:
                continue
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                eof = True
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                out.events.append(ev)
                if on_event is not None:
                    on_event(ev)
                if ev.get("ev") == "begin":
                    open_phase = ev
                    deadline = time.monotonic() + float(ev.get("limit_s", idle_limit_s))
                elif ev.get("ev") == "end":
                    open_phase = None
                    deadline = time.monotonic() + idle_limit_s
                elif ev.get("ev") == "result":
                    out.result = ev["result"]
    except BaseException:
        _kill_group(proc)  # interrupted (Ctrl-C): no orphaned worker
        raise
    finally:
        os.close(rfd)
    if out.killed_in is None:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
        if open_phase is not None or out.result is None:
            out.died_in = open_phase or {"ev": "begin", "variant": None, "phase": "setup"}
    out.returncode = proc.returncode
    out.wall_s = time.monotonic() - t0
    return out


def describe_death(returncode: Optional[int], log_path: str) -> str:
    """"crashed (SIGSEGV)" / "exited with status 3", with the log's last
    line that looks like an error."""
    if returncode is not None and returncode < 0:
        try:
            what = f"crashed ({signal.Signals(-returncode).name})"
        except ValueError:
            what = f"crashed (signal {-returncode})"
    else:
        what = f"exited with status {returncode}"
    try:
        with open(log_path, errors="replace") as f:
            tail = [ln.strip() for ln in f.readlines()[-40:] if ln.strip()]
    except OSError:
        tail = []
    hint = next((ln for ln in reversed(tail) if "Error" in ln or "error:" in ln or "terminate" in ln), "")
    return what + (f": {hint[:200]}" if hint else "")


def supervise(make_argv: Callable[[Dict[str, str]], List[str]], variants: Sequence[str],
              log_path: str, idle_limit_s: float = 600.0, env: Optional[dict] = None,
              cwd: Optional[str] = None, on_event: Optional[Callable[[dict], None]] = None,
              max_starts: Optional[int] = None,
              on_stop: Optional[Callable[[Optional[str], str], None]] = None) -> dict:
    """Run a model's worker until it sends its result, skipping each variant
    that ran out of time or killed the worker and starting it again.
    make_argv(skipped) gives the worker's command line for the variants
    skipped so far ({variant: failure text}); on_stop(variant, text) is called
    when a worker is stopped or dies in a phase. Returns {"result": ... or None,
    "skipped": {variant: text}, "starts": [...per worker: returncode, wall_s,
    what ended it...], "error": text if no worker finished}."""
    skipped: Dict[str, str] = {}
    starts = []
    max_starts = max_starts if max_starts is not None else len(variants) + 1
    for _ in range(max_starts):
        o = run_worker(make_argv(dict(skipped)), log_path, idle_limit_s, env, cwd, on_event)
        info = {"returncode": o.returncode, "wall_s": o.wall_s, "killed_in": o.killed_in,
                "died_in": o.died_in}
        starts.append(info)
        if o.result is not None and o.killed_in is None and o.died_in is None:
            return {"result": o.result, "skipped": skipped, "starts": starts, "error": None}
        phase = o.killed_in or o.died_in
        variant = phase.get("variant")
        if o.killed_in is not None:
            text = failure_text("timeout", limit_s=float(phase.get("limit_s", idle_limit_s)))
            if phase.get("phase") not in (None, "first_calls"):
                text += f" ({phase.get('phase')})"
        else:
            text = failure_text("fails", describe_death(o.returncode, log_path))
        info["failure"] = text
        if on_stop is not None:
            on_stop(variant, text)
        if variant is None or variant in skipped:
            # outside any variant (building the model, the reference): nothing to skip
            return {"result": None, "skipped": skipped, "starts": starts,
                    "error": f"{phase.get('phase')}: {text}"}
        skipped[variant] = text
    return {"result": None, "skipped": skipped, "starts": starts,
            "error": f"gave up after {len(starts)} worker starts"}
