"""The persistent shell, through every backend: exit codes, output, state between
commands, timeouts, cancel, output caps, a dead shell coming back."""
from __future__ import annotations

import threading
import time

import pytest

from tests.sandbox.sandbox_fixtures import driver_gone, wait_until
from tools.output_cap import OUTPUT_LIMIT
from tools.sandbox.errors import SandboxUnavailable


def test_exit_code_and_interleaved_output(any_sandbox):
    r = any_sandbox.exec("echo out; echo err >&2; echo out2; exit 7", timeout=30)
    assert r.exit_code == 7
    assert r.output == "out\nerr\nout2\n"
    assert not r.timed_out and not r.truncated


def test_output_without_final_newline_and_workspace_visible(any_sandbox):
    r = any_sandbox.exec("cat hello.txt; printf 'no newline'", timeout=30)
    assert r.exit_code == 0
    assert r.output == "hello from the workspace\nno newline"


def test_workdir_is_the_workspace(any_sandbox, workspace):
    r = any_sandbox.exec("pwd", timeout=30)
    expected = str(workspace) if any_sandbox.kind == "local" else "/workspace"
    assert r.output.strip() == expected == any_sandbox.workdir


def test_cd_and_export_hold_for_the_next_command(any_sandbox):
    assert any_sandbox.exec("mkdir -p a/b && cd a/b && export GREETING='hi there'",
                            timeout=30).exit_code == 0
    r = any_sandbox.exec('pwd; echo "$GREETING"', timeout=30)
    lines = r.output.splitlines()
    assert lines[0].endswith("/a/b")
    assert lines[1] == "hi there"
    # unset and cd back also hold
    any_sandbox.exec("unset GREETING; cd ../..", timeout=30)
    r = any_sandbox.exec('pwd; echo "[${GREETING-unset}]"', timeout=30)
    assert r.output.splitlines()[1] == "[unset]"
    assert not r.output.splitlines()[0].endswith("/a/b")


def test_state_survives_a_failing_command_and_exit(any_sandbox):
    r = any_sandbox.exec("mkdir -p d && cd d && export X=1 && exit 3", timeout=30)
    assert r.exit_code == 3
    r = any_sandbox.exec('basename "$PWD"; echo $X', timeout=30)
    assert r.output.split() == ["d", "1"]


def test_per_call_env_and_cwd_do_not_stick(any_sandbox):
    any_sandbox.exec("mkdir -p sub", timeout=30)
    r = any_sandbox.exec('echo "$ONLY_NOW"; basename "$PWD"', cwd="sub", timeout=30,
                         env={"ONLY_NOW": "yes"})
    assert r.output.split() == ["yes", "sub"]
    r = any_sandbox.exec('echo "[${ONLY_NOW-}]"; basename "$PWD"', timeout=30)
    assert r.output.split()[0] == "[]"
    assert r.output.split()[1] != "sub"


def test_missing_cwd_is_an_error_not_a_crash(any_sandbox):
    r = any_sandbox.exec("echo should-not-run", cwd="no/such/dir", timeout=30)
    assert r.exit_code != 0
    assert "should-not-run" not in r.output
    assert any_sandbox.exec("echo fine", timeout=30).output == "fine\n"


def test_stdin_is_empty_so_reading_commands_do_not_hang(any_sandbox):
    r = any_sandbox.exec("cat; read x; echo done", timeout=10)
    assert r.output == "done\n" and not r.timed_out


def test_timeout_kills_the_group_and_the_shell_lives(any_sandbox):
    any_sandbox.exec("export KEEP=me", timeout=30)
    start = time.monotonic()
    r = any_sandbox.exec("echo started; (sleep 100.25; echo child-survived > survived.txt) & "
                         "sleep 100.25", timeout=1)
    assert time.monotonic() - start < 10
    assert r.timed_out and r.exit_code == 137
    assert "started" in r.output and "timed out after 1s" in r.output
    def group_gone():
        r = any_sandbox.exec("echo $KEEP; pgrep -f 'sleep 100.25' || echo none", timeout=30)
        return r if r.output.splitlines()[-1] == "none" else None

    r = wait_until(group_gone)
    assert r, "a process of the killed group still runs"  # nothing of it runs on
    assert r.output.splitlines()[0] == "me"


def test_background_processes_end_with_their_command(any_sandbox):
    r = any_sandbox.exec("(sleep 2.31; echo late) & echo now", timeout=30)
    assert r.output == "now\n"
    # Were the sleeper alive it would print "late" within 2.31 s, into a later output.
    outputs = []

    def sleeper_gone():
        outputs.append(any_sandbox.exec("pgrep -f 'sleep 2.31' || echo gone", timeout=30).output)
        return outputs[-1] == "gone\n"

    assert wait_until(sleeper_gone), outputs
    r = any_sandbox.exec("echo next", timeout=30)
    assert r.output == "next\n"  # "late" never leaks into a later command


def test_cancel_interrupts_promptly(any_sandbox):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    r = any_sandbox.exec("sleep 60", timeout=120, cancel=cancel)
    assert time.monotonic() - start < 5
    assert r.exit_code == 137 and not r.timed_out
    assert "interrupted" in r.output
    assert any_sandbox.exec("echo ok", timeout=30).output == "ok\n"


def test_huge_output_is_capped_head_and_tail(any_sandbox):
    r = any_sandbox.exec("seq 1 2000000; echo THE-END", timeout=60)
    assert r.exit_code == 0 and r.truncated
    assert len(r.output) <= OUTPUT_LIMIT + 200
    assert r.output.startswith("1\n2\n3\n")
    assert r.output.rstrip().endswith("THE-END")
    assert "cut from the middle" in r.output


def test_dead_shell_is_restarted(any_sandbox):
    r = any_sandbox.exec("kill -9 $$", timeout=30)  # $$ is the driver shell itself
    assert r.exit_code == -1
    assert "shell exited" in r.output
    r = any_sandbox.exec("echo back; pwd", timeout=60)
    assert r.exit_code == 0 and r.output.startswith("back\n")


def test_nul_byte_in_command_is_refused(any_sandbox):
    r = any_sandbox.exec("echo a\x00b", timeout=30)
    assert r.exit_code != 0 and "NUL" in r.output


def test_quotes_newlines_and_heredocs_pass_through(any_sandbox):
    cmd = "cat <<'EOF'\nit's \"quoted\" $HOME `x`\nEOF\necho 'second'"
    r = any_sandbox.exec(cmd, timeout=30)
    assert r.output == "it's \"quoted\" $HOME `x`\nsecond\n"


def test_files_written_in_the_sandbox_belong_to_the_host_user(any_sandbox, workspace):
    import os

    assert any_sandbox.exec("echo x > made.txt && mkdir madedir", timeout=30).exit_code == 0
    st = (workspace / "made.txt").stat()
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert (workspace / "madedir").stat().st_uid == os.getuid()


def test_concurrent_calls_are_serialised(any_sandbox):
    results = []

    def run(i):
        results.append(any_sandbox.exec(f"sleep 0.2; echo {i}", timeout=30).output)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["0\n", "1\n", "2\n"]


def test_close_twice_is_harmless(any_sandbox):
    any_sandbox.close()
    any_sandbox.close()
    with pytest.raises(SandboxUnavailable, match="closed"):
        any_sandbox.exec("true", timeout=5)


def test_shell_killed_between_commands_is_replaced_transparently(any_sandbox):
    # The driver dies in the background, after this command has returned.
    # setsid: out of the command's process group, so not killed when it ends; the
    # command waits for the flag, or its end could kill the killer before setsid ran.
    r = any_sandbox.exec('setsid bash -c "touch detached.flag; sleep 0.3; kill -9 $$" '
                         "</dev/null >/dev/null 2>&1 & "
                         "until [ -e detached.flag ]; do sleep 0.01; done; echo ok", timeout=30)
    assert r.output == "ok\n"
    assert wait_until(lambda: driver_gone(any_sandbox)), "the driver was not killed"
    r = any_sandbox.exec("echo still-works", timeout=60)
    assert r.exit_code == 0 and r.output == "still-works\n"


def test_timeout_shorter_than_the_start_still_kills(any_sandbox):
    start = time.monotonic()
    r = any_sandbox.exec("sleep 30", timeout=0.001)
    assert r.timed_out and time.monotonic() - start < 4
    assert any_sandbox.exec("echo ok", timeout=30).output == "ok\n"
