"""Bad input that used to crash, as a user meets it on the command line: each is now
one clear line on stderr and exit 2, before any run starts."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest

from tests.ama_cli import Run, isolated_env, run_ama
from .conftest import DONE


@pytest.fixture
def headless(ama, repo, script):
    """`ama -p` on `repo` with a script that just answers; extra args appended."""
    model = script(DONE)
    return lambda *args, **kw: ama("-p", *args, "--model", model, "--cwd", str(repo),
                                   "--sandbox", "local", **kw)


def bad(run, *needles):
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    for needle in needles:
        assert needle in run.stderr, run.stderr


# ---- limits: every negative (or zero) one is bad input --------------------------------

@pytest.mark.parametrize("args, message", [
    (["--max-time", "-5"], "max_time must be greater than 0"),
    (["--max-time", "0"], "max_time must be greater than 0"),
    (["--max-time", "nan"], "max_time must be a finite number"),
    (["--max-cost", "-1"], "max_cost must be greater than 0"),
    (["--max-turns", "0"], "max_turns must be at least 1"),
    (["--max-verify", "0", "--verify", "true"], "max_verify must be at least 1"),
    (["--attempts", "0"], "--attempts must be at least 1"),
    (["--attempts", "2", "--parallel", "-1"], "--parallel must be at least 1"),
    (["--config", "max_time=-5"], "max_time must be greater than 0"),
    (["--config", "compaction.threshold=1.5"], "must be above 0 and at most 1"),
    (["--config", "max_retries=-1"], "max_retries must be 0 or more"),
])
def test_negative_or_zero_limits(headless, args, message):
    bad(headless("x", *args), message)


def test_a_negative_limit_from_the_environment(headless):
    bad(headless("x", env={"AMA_MAX_TIME": "-5"}), "AMA_MAX_TIME", "must be greater than 0")


# ---- config ----------------------------------------------------------------------------

def test_a_number_too_large_for_a_float_names_file_line_and_key(headless, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('model = "script:x"\nmax_cost = 1' + "0" * 400 + "\n")
    bad(headless("x", "--config", str(conf)), f"{conf}:2: max_cost = ", "too large for a number")


def test_deeply_nested_toml_names_the_file(headless, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("[permissions]\nallow = " + "[" * 1000 + "]" * 1000 + "\n")
    bad(headless("x", "--config", str(conf)), str(conf), "nested too deeply")


def test_key_value_past_a_file_name_length(headless):
    bad(headless("x", "--config", "max_turns=" + "9" * 300), "--config max_turns=999", "too large")
    long_ok = headless("x", "--config", "verify=echo " + "a" * 300)   # a value, not a file name
    assert long_ok.code == 0, long_ok.stderr


def test_the_retry_and_timeout_keys_of_the_readme_are_real(ama, headless):
    keys = ("max_retries=2", "retry_base_delay=0.5", "retry_max_delay=4", "timeout=30")
    args = [a for k in keys for a in ("--config", k)]
    assert headless("x", *args).code == 0
    shown = ama("config", "show", *args)
    assert shown.code == 0, shown.stderr
    for line in ("max_retries = 2", "retry_base_delay = 0.5", "retry_max_delay = 4.0", "timeout = 30.0"):
        assert line in shown.stdout


@pytest.mark.parametrize("flag, message", [
    ("--cwd", "no such directory"), ("--task-file", "File name too long"),
    ("--patch-out", "File name too long"), ("--config", "no such file"), ("--model", "script file"),
])
def test_names_too_long_for_the_os(ama, repo, script, flag, message):
    long_name = ("script:" if flag == "--model" else "") + "x" * 300
    task = [] if flag == "--task-file" else ["x"]
    r = ama("-p", *task, "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local",
            flag, long_name)
    bad(r, message)


# ---- the task ---------------------------------------------------------------------------

def test_a_binary_task_on_stdin(headless):
    bad(headless("-", stdin=b"\xff\xfe\x00PNG"), "the task on stdin: not UTF-8 text", "byte 0")


def test_control_characters_on_stdin(headless):
    bad(headless("-", stdin="fix it\x1b[2J\x00"), "the task on stdin: holds a control character (0x1b")


def test_a_binary_task_file(headless, tmp_path):
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    bad(headless("", "--task-file", str(png)), f"--task-file {png}: not UTF-8 text")
    elf = tmp_path / "prog"
    elf.write_bytes(b"\x7fELF\x02\x01\x01\x00")
    bad(headless("", "--task-file", str(elf)), "holds a control character (0x7f")


def test_a_text_task_file_with_a_bom_and_crlf_is_fine(headless, tmp_path):
    issue = tmp_path / "issue.md"
    issue.write_bytes("\ufeffFix the bug.\r\n\tIndented.\r\n".encode())
    assert headless("", "--task-file", str(issue)).code == 0


# ---- outputs are checked before the run -------------------------------------------------

@pytest.mark.parametrize("target, message", [
    ("missing/dir/out.patch", "does not exist; create it first"),
    (".", "is a directory"),
])
def test_patch_out_is_checked_before_the_run(headless, ama_home, tmp_path, target, message):
    bad(headless("x", "--patch-out", str(tmp_path / target)), "--patch-out", message)
    assert not list(ama_home.glob("sessions/*.jsonl")), "a run started"


# ---- AMA_HOME ---------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["file", "/proc/ama-state"])
def test_an_unwritable_ama_home_says_where_and_how_to_move_it(repo, script, tmp_path, where):
    home = tmp_path / "state-file" if where == "file" else where
    if where == "file":
        home.write_text("not a folder\n")
    env = {**isolated_env(tmp_path / "env"), "AMA_HOME": str(home)}
    r = run_ama(("-p", "x", "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local"), env)
    bad(r, f"cannot write ama's state to {home}", "AMA_HOME")
    if where == "file":
        assert "it is a file, not a folder" in r.stderr
    bad(run_ama(("sessions", "list"), env), "cannot write ama's state")


def _can_mount_read_only(folder) -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
                            f"mount -o remount,ro,bind {folder} {folder}"], capture_output=True)
    return probe.returncode == 0


def test_ama_home_on_a_read_only_mount(repo, script, tmp_path):
    home = tmp_path / "ro-home"
    (home / "sessions").mkdir(parents=True)
    if not shutil.which("unshare") or not _can_mount_read_only(home):
        pytest.skip("needs mount namespaces (unshare -m), which this machine does not allow")
    env = {**isolated_env(tmp_path / "env"), "AMA_HOME": str(home)}
    ama = shlex.join([sys.executable, "-m", "agent", "-p", "x", "--model", script(DONE),
                      "--cwd", str(repo), "--sandbox", "local"])
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {home} {home} && "
                        f"mount -o remount,ro,bind {home} {home} && exec {ama}"],
                       capture_output=True, text=True, env=env, timeout=60)
    bad(Run(r.returncode, r.stdout, r.stderr), f"cannot write ama's state to {home}",
        "read-only file system", "AMA_HOME=")
