"""The REPL: a prompt-toolkit prompt, turns run with interrupt keys, review at the end
of each turn that changed files, slash commands, `!command`, `@path` and `@server:URI`
mentions.

    run_repl(options, first_message)                      # a real terminal
    Repl(options, ReplIO(console, input, output)).run(first)  # tests: pipe input

The state — the session, the mode, the marks /rewind goes back to — is a ReplState
(agent/repl/state.py) that commands change through its named operations; this module
is the terminal around it: the prompt, keys, turns in a worker thread, review.

Keys at the prompt: Enter sends; Alt+Enter (Esc Enter) and Ctrl-J insert a newline
(pasted blocks stay one message); Shift-Tab cycles the mode review → auto-accept →
plan; Ctrl-C clears the line, twice on an empty line exits; Ctrl-D exits. During a
turn: Esc or Ctrl-C interrupts it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.text import Text

from agent.core import events as ev
from agent.core.types import ToolCall
from agent.repl.state import ReplState
from agent.repl.terminal import ReplIO, terminal_io
from agent.session.options import Mode, SessionOptions
from agent.ui.status import Status, status_text

APPROVAL_ANSWERS = "[y]es / [N]o / [a]lways allow"


@dataclass
class Repl:
    options: SessionOptions
    io: ReplIO
    start_mode: Mode = Mode.REVIEW
    idle: threading.Event = field(default_factory=threading.Event)   # waiting at the prompt
    asking: threading.Event = field(default_factory=threading.Event)  # waiting for an answer
    question: str = ""

    # ---- start and stop -----------------------------------------------------------

    def open(self) -> None:
        from agent.repl.commands import Commands
        from agent.repl.turn import TurnRunner
        from agent.session.log import SessionLog, new_session_id
        from agent.session.open import open_session
        from agent.ui.view import TurnView

        self.console = self.io.console
        self.log = SessionLog(self.options.resume or new_session_id())
        self.status = Status(model=self.options.model, mode=self.start_mode.value)
        self.view = TurnView(self.console, self.status)
        self.runner = TurnRunner(threading.Event(), input=self.io.input, output=self.io.output,
                                 live=lambda: self.view.partial,
                                 status=lambda: status_text(self.status), ask=self.ask)
        try:
            session = open_session(self.options, ev.fan_out(self.log, self._track, self.view),
                                   session_id=self.log.session_id, cancel=self.runner.cancel,
                                   approve=self._approve)
        except BaseException:
            self.log.close()
            raise
        self.state = ReplState(session)
        self.state.prefetch_mcp()   # the servers' resources and prompts, for completion
        self.status.context_window = getattr(session.agent.model, "context_window", 0)
        self.set_mode(self.start_mode)
        self.commands = Commands(self)
        self._prompt = self._make_prompt()

    def close(self) -> None:
        pending = False
        try:
            pending = not self.workspace.change_set().empty
        except Exception:
            pass
        self.state.session.close(keep_workspace=pending)
        if pending:
            self.console.print(Text("Changes are still pending; `ama review` reopens them.",
                                    style="yellow"))
        self.log.close()

    def _track(self, e: ev.Event) -> None:
        if e.type == "compacted":   # message positions changed: /rewind starts afresh
            self.state.forget_marks()

    # ---- what the tests and commands read ----------------------------------------------

    @property
    def session_id(self) -> str:
        return self.state.session.id

    @property
    def agent(self):
        return self.state.session.agent

    @property
    def workspace(self):
        return self.state.session.workspace

    @property
    def mode(self) -> Mode:
        return self.state.mode

    # ---- the prompt ---------------------------------------------------------------

    def _make_prompt(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings
        from agent.config.home import ama_home
        from agent.repl.completion import ReplCompleter
        from agent.repl.mentions import MentionCompleter

        kb = KeyBindings()

        @kb.add("enter")
        def _enter(event) -> None:
            buf = event.current_buffer
            if buf.complete_state and buf.complete_state.current_completion:
                buf.apply_completion(buf.complete_state.current_completion)
                return
            buf.validate_and_handle()

        @kb.add("escape", "enter")
        @kb.add("c-j")
        def _newline(event) -> None:
            event.current_buffer.insert_text("\n")

        @kb.add("s-tab")
        def _cycle(event) -> None:
            self.set_mode(self.mode.next())
            event.app.invalidate()

        @kb.add("c-c")
        def _ctrl_c(event) -> None:
            buf = event.current_buffer
            if buf.text:
                buf.reset()
            else:
                event.app.exit(exception=KeyboardInterrupt())

        self.completer = ReplCompleter(
            MentionCompleter(self.workspace.user_root), commands=self.commands.completion_names,
            servers=self.state.mcp_connected,
            resources=lambda server: [r.uri for r in self.state.mcp_list(server, "resources",
                                                                         wait=False)])
        return PromptSession(
            history=FileHistory(str(ama_home() / "repl_history")), key_bindings=kb,
            multiline=True, completer=self.completer, complete_while_typing=True,
            bottom_toolbar=lambda: " " + status_text(self.status) + "  (shift-tab: mode, /help)",
            prompt_continuation=lambda width, line, wrap: "… ".rjust(width),
            input=self.io.input, output=self.io.output, enable_open_in_editor=False)

    def ask(self, message: str) -> str:
        """One answer from the user (review choices, approvals, /rewind picks)."""
        from prompt_toolkit import PromptSession
        self.question = message
        self.asking.set()
        try:
            return PromptSession(input=self.io.input, output=self.io.output).prompt(message)
        finally:
            self.asking.clear()

    def _approve(self, call: ToolCall, reason: str) -> bool:
        """An "ask" rule fired (called from the turn's thread): yes, no, or always allow
        (the call generalised into a rule, saved for this repository)."""
        from agent.ui.toolcalls import key_argument
        answer = self.runner.question(f"allow {call.name} {key_argument(call.name, call.arguments)[:120]}? "
                                      f"({reason}) {APPROVAL_ANSWERS} ")
        answer = answer.strip().lower()
        if answer in ("a", "always"):
            rules = self.state.session.always_allow(call)
            self.console.print(Text(f"always allowed here: {', '.join(rules)}", style="dim"))
            return True
        return answer in ("y", "yes")

    def set_mode(self, mode: Mode) -> None:
        self.state.set_mode(mode)
        self.status.mode = mode.value

    def set_model(self, spec: str) -> None:
        self.state.set_model(spec)
        self.status.model = spec
        self.status.context_window = getattr(self.agent.model, "context_window", 0)

    # ---- the loop -----------------------------------------------------------------

    def run(self, first_message: str | None = None) -> int:
        """Open the session, talk until /exit, Ctrl-D or Ctrl-C twice; returns 0."""
        self.open()
        self.console.print(Text(f"ama · {self.options.model} · {self.workspace.user_root}  "
                                f"(/help for commands, Ctrl-D to exit)", style="dim"))
        try:
            if first_message:
                self.console.print(Text("› " + first_message, style="bold"))
                self.send(first_message)
            interrupted = False
            while True:
                self.completer.refresh()
                self.idle.set()
                try:
                    text = self._prompt.prompt([("bold", "› ")], default=self.runner.take_typeahead())
                except KeyboardInterrupt:
                    if interrupted:
                        break
                    interrupted = True
                    self.console.print(Text("(Ctrl-C again or Ctrl-D to exit)", style="dim"))
                    continue
                except EOFError:
                    break
                finally:
                    self.idle.clear()
                interrupted = False
                if not text.strip():
                    continue
                try:
                    if text.startswith("/"):
                        if self.commands.run(text.strip()) == "exit":
                            break
                    elif text.startswith("!"):
                        self.shell(text[1:].strip())
                    else:
                        self.send(text)
                except KeyboardInterrupt:  # Ctrl-C outside a turn (e.g. while applying)
                    self.console.print(Text("⏹ interrupted", style="yellow"))
        finally:
            self.close()
        return 0

    # ---- a turn -------------------------------------------------------------------

    def send(self, text: str, mentions: bool = True) -> None:
        """Run one user message through the session (its `@path` and `@server:URI`
        mentions attached unless `mentions` is False), then review what it changed (and
        send the review's feedback, if any, the same way). A resource that cannot be read
        stops the message before it is sent; it goes back to the prompt."""
        from tools.mcp.resources import McpRequestError
        while text:
            cs = None
            try:
                cs = self.runner.run(lambda: self.state.send(text, mentions)).change_set
            except McpRequestError as e:
                self.console.print(Text(f"not sent: {e}; your message is back at the prompt",
                                        style="yellow"))
                self.runner.typeahead = text + self.runner.typeahead
                return
            except Exception as e:  # a bug or a dead sandbox: say so, keep the REPL alive
                self.console.print(Text(f"error: {type(e).__name__}: {e}", style="bold red"))
            self.console.print()
            text, mentions = self.review_pending(auto=self.mode is Mode.AUTO_ACCEPT, cs=cs), True

    def review_pending(self, auto: bool = False, cs=None) -> str:
        """Review (or, `auto`, accept) the pending changes — `cs`, the change set the turn
        just read, or a fresh one; returns feedback to send, or ''."""
        from prompts import render
        from agent.repl.review_ui import review_change_set
        try:
            cs = cs if cs is not None else self.workspace.change_set()
        except Exception as e:
            self.console.print(Text(f"could not compute the change set: {e}", style="red"))
            return ""
        if cs.empty:
            return ""
        _, result = review_change_set(self.workspace, cs, self.console, self.ask, auto=auto,
                                      editor=self.io.editor)
        self.state.session.record("reviewed")
        if result and result.feedback:
            return render("review_feedback.md", feedback=result.feedback)
        return ""

    # ---- !command -----------------------------------------------------------------

    def shell(self, command: str) -> None:
        """Run a command in the sandbox; show the output and keep it for the model."""
        from prompts import render
        if not command:
            self.console.print(Text("usage: !COMMAND", style="dim"))
            return
        from agent.core.verify import USER_COMMAND_TIMEOUT
        session = self.state.session
        res = self.runner.run(lambda: session.sandbox.exec(command, timeout=USER_COMMAND_TIMEOUT,
                                                           cancel=session.cancel))
        out = res.output.rstrip()
        if out:
            self.console.print(Text(out))
        status = "timed out" if res.timed_out else f"exit code {res.exit_code}"
        self.console.print(Text(f"[{status}]", style="dim"))
        self.state.add_context(render("shell_escape.md", workdir=session.sandbox.workdir,
                                      command=command, output=out[-20000:],
                                      exit_code=res.exit_code, timed_out=res.timed_out))
        session.record("shell")


def run_repl(options: SessionOptions, first_message: str | None = None,
             mode: Mode = Mode.REVIEW) -> int:
    """`ama` in a terminal. Returns the exit code."""
    io = terminal_io()
    try:
        return Repl(options, io, start_mode=mode).run(first_message)
    finally:
        io.proxy.close()
