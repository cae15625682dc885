# The persistent shell's driver: sent once to each new `bash -s` (shell_session.py).
#
# __ama_begin (in the job subshell): report the pid, remember the starting
# directory, and set the EXIT trap that saves the state. __ama_wait and
# __ama_end (in the driver): wait for the job, kill what is left of its group,
# take on the saved state, print the end sentinel. Helpers are defined once so
# that each command sends only a few bytes (bash reads a pipe byte by byte).
#
# Each placeholder, a NAME between two at signs, is filled in by shell_session.py
# as one quoted bash word.
set -m
# Timeouts and cancels arrive as USR1 to this shell where the host can signal it
# without starting a process in the sandbox (which a fork bomb would make fail):
# `kill` is a builtin.
trap 'kill -KILL -- -$! 2>/dev/null; __ama_hit=1' USR1
[ -d @STATE_DIR@ ] || mkdir -p -- @STATE_DIR@
__ama_begin() {
  printf '%sP%d\n' "$1" "$BASHPID"
  __ama_pwd0=$PWD; __ama_keep=$2
  trap '__ama_rc=$?; [ "$PWD" != "$__ama_pwd0" ] && printf "%s\0" "$PWD" > "$__ama_cwdf" 2>/dev/null; [ -n "$__ama_keep" ] && unset -v $__ama_keep; export -n PWD OLDPWD; { export -p; echo __ama_ok=1; } > "$__ama_env" 2>/dev/null; exit $__ama_rc' EXIT
}
__ama_unset() {
  # Unset every exported variable, so that one the command unset stays unset once
  # the saved environment is sourced. (Sourcing happens at top level: `declare -x`
  # inside a function would make locals.) Builtins only: a fork costs ~0.5 ms.
  [ -r "$__ama_env" ] || return 1
  # Only a complete file (its last line written) replaces the environment: a full
  # disk must not leave the next command without PATH.
  mapfile -t __ama_lines < "$__ama_env"
  [ ${#__ama_lines[@]} -gt 0 ] && [ "${__ama_lines[${#__ama_lines[@]}-1]}" = __ama_ok=1 ] || return 1
  compgen -e > @NAMES_FILE@; mapfile -t __ama_names < @NAMES_FILE@
  __ama_p=$PWD; __ama_o=$OLDPWD
  unset -v "${__ama_names[@]}" 2>/dev/null
  # PWD and OLDPWD are the driver's own (the job does not save them).
  export PWD=$__ama_p; [ -n "$__ama_o" ] && export OLDPWD=$__ama_o
  return 0
}
__ama_cd() {
  [ -r @CWD_FILE@ ] && IFS= read -r -d '' __ama_cwd < @CWD_FILE@
  [ -n "$__ama_cwd" ] && cd -- "$__ama_cwd" 2>/dev/null
}
__ama_wait() {
  __ama_job=$!
  wait $__ama_job; __ama_rc=$?
  # A USR1 (timeout or cancel) interrupts `wait`; wait again for the killed job.
  if [ -n "$__ama_hit" ]; then wait $__ama_job 2>/dev/null; __ama_rc=137; fi
  kill -KILL -- -$__ama_job 2>/dev/null
  __ama_job=
  __ama_unset
}
__ama_end() {
  __ama_cd
  printf '%sD%d\n' "$1" "$__ama_rc"
}
__ama_env=@ENV_FILE@; __ama_cwdf=@CWD_FILE@
cd -- @WORKDIR@ 2>/dev/null
__ama_unset && . "$__ama_env" 2>/dev/null
__ama_cd
