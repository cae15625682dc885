"""The REPL: a prompt-toolkit prompt, turns run with interrupt keys, review at the end
of each turn that changed files, slash commands, `!command`, `@path` mentions.

    run_repl(opts, first_message)          # a real terminal
    Repl(opts, ReplIO(console, input, output)).run(first)   # tests: pipe input

Keys at the prompt: Enter sends; Alt+Enter (Esc Enter) and Ctrl-J insert a newline
(pasted blocks stay one message); Shift-Tab cycles the mode review → auto-accept →
plan; Ctrl-C clears the line, twice on an empty line exits; Ctrl-D exits. During a
turn: Esc or Ctrl-C interrupts it.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.text import Text

from agent import events as ev
from agent.types import Message
from agent.ui.status import Status, status_text

MODES = ("review", "auto-accept", "plan")


@dataclass
class ReplIO:
    """Where the REPL reads and writes. input/output: prompt-toolkit objects (None: the
    terminal); console: where everything but the prompt is printed."""
    console: Console
    input: Any = None
    output: Any = None
    editor: str | None = None         # for "edit this hunk" (default $VISUAL/$EDITOR/vi)
    proxy: Any = None                 # the StdoutProxy to close at exit, in a terminal


@dataclass
class Mark:
    """A user message in the conversation, for /rewind."""
    text: str
    message_index: int       # len(agent.messages) before it was sent
    tree: str                # the workspace snapshot at that moment


@dataclass
class Repl:
    opts: Any                       # agent.headless.RunOptions
    io: ReplIO
    auto_accept: bool = False
    mode: str = "review"
    marks: list[Mark] = field(default_factory=list)
    undo_stack: list[str] = field(default_factory=list)
    pending_context: list[str] = field(default_factory=list)
    idle: threading.Event = field(default_factory=threading.Event)   # waiting at the prompt
    asking: threading.Event = field(default_factory=threading.Event)  # waiting for an answer
    question: str = ""

    # ---- start and stop -----------------------------------------------------------

    def open(self) -> None:
        from agent.session import SessionLog, new_session_id
        from agent.setup import open_session
        from agent.ui.view import TurnView
        from agent.repl.turn import TurnRunner

        self.console = self.io.console
        self.session_id = getattr(self.opts, "resume", None) or new_session_id()
        self.log = SessionLog(self.session_id)
        self.cancel = threading.Event()
        self.status = Status(model=self.opts.model, mode=self.mode)
        self.view = TurnView(self.console, self.status)
        emit = ev.fan_out(self.log, self._track, self.view)
        try:
            self.setup = open_session(self.opts, self.session_id, emit, self.cancel)
        except BaseException:
            self.log.close()
            raise
        self.agent, self.workspace = self.setup.agent, self.setup.workspace
        self.base_permission_mode = self.agent.permissions.mode
        self.status.context_window = getattr(self.agent.model, "context_window", 0)
        self.undo_stack = [self.workspace.base]
        self.runner = TurnRunner(self.cancel, input=self.io.input, output=self.io.output,
                                 live=lambda: self.view.partial,
                                 status=lambda: status_text(self.status),
                                 confirm=self._confirm)
        self.agent.approve = lambda call, reason: self.runner.approve(
            f"allow {call.name} {_key_arg(call)}? ({reason}) [y/N] ")
        if self.auto_accept:
            self.set_mode("auto-accept")
        self._prompt = self._make_prompt()

    def close(self) -> None:
        pending = False
        try:
            pending = not self.workspace.change_set().empty
        except Exception:
            pass
        self.setup.close(keep=pending or bool(getattr(self.opts, "keep_workspace", False)))
        if pending:
            self.console.print(Text("Changes are still pending; `ama review` reopens them.",
                                    style="yellow"))
        self.log.close()

    def _track(self, e: ev.Event) -> None:
        """Remember checkpoints (for /undo) as the loop makes them."""
        if isinstance(e, ev.Checkpoint):
            self.undo_stack.append(e.commit)
        elif e.type == "compacted":   # message positions changed: /rewind starts afresh
            self.marks.clear()

    # ---- the prompt ---------------------------------------------------------------

    def _make_prompt(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings
        from agent.home import ama_home
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
            self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])
            event.app.invalidate()

        @kb.add("c-c")
        def _ctrl_c(event) -> None:
            buf = event.current_buffer
            if buf.text:
                buf.reset()
            else:
                event.app.exit(exception=KeyboardInterrupt())

        self.completer = MentionCompleter(self.workspace.user_root)
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

    def _confirm(self, question: str) -> bool:
        return self.ask(question).strip().lower() in ("y", "yes")

    def set_mode(self, mode: str) -> None:
        self.mode = self.status.mode = mode
        self.agent.permissions.mode = "plan" if mode == "plan" else self.base_permission_mode

    # ---- the loop -----------------------------------------------------------------

    def run(self, first_message: str | None = None) -> int:
        """Open the session, talk until /exit, Ctrl-D or Ctrl-C twice; returns 0."""
        from agent.repl.commands import Commands

        self.open()
        commands = Commands(self)
        self.console.print(Text(f"ama · {self.opts.model} · {self.workspace.user_root}  "
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
                        if commands.run(text.strip()) == "exit":
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

    def compose(self, text: str) -> str:
        """The message the model gets: mentions attached, `!command` results, plan mode."""
        from prompts import render
        from agent.repl.mentions import attachments
        message = text
        files = attachments(text, self.workspace.tree)
        if files:
            message = render("mentions.md", message=message, files=files)
        if self.pending_context:
            message = render("pending_context.md", context=self.pending_context, message=message)
            self.pending_context = []
        if self.mode == "plan":
            message = render("plan_mode.md", message=message)
        return message

    def send(self, text: str) -> None:
        """Run one user message through the agent, then review what it changed."""
        while text:
            self.marks.append(Mark(text.strip().splitlines()[0][:80] if text.strip() else "",
                                   len(self.agent.messages), self.undo_stack[-1]))
            message = self.compose(text)
            try:
                self.runner.run(lambda: self.agent.run(message))
            except Exception as e:  # a bug or a dead sandbox: say so, keep the REPL alive
                self.console.print(Text(f"error: {type(e).__name__}: {e}", style="bold red"))
            self._mend_conversation()
            self.console.print()
            text = self.after_turn()

    def _mend_conversation(self) -> None:
        """After an interrupt the conversation may end without an answer; close it so the
        next message follows an assistant turn."""
        last = self.agent.messages[-1]
        if last.role in ("user", "tool"):
            self.agent.messages.append(Message("assistant", "(interrupted by the user)"))

    def after_turn(self) -> str:
        """Review (or auto-apply) the turn's changes; returns feedback to send, or ''."""
        return self.review_pending(auto=self.mode == "auto-accept")

    def review_pending(self, auto: bool = False) -> str:
        from prompts import render
        from tools.workspace.review import apply_review, decide_all, split_change_set
        from agent.repl.review_ui import print_report, run_review, settle_applied_by_hand
        try:
            cs = self.workspace.change_set()
        except Exception as e:
            self.console.print(Text(f"could not compute the change set: {e}", style="red"))
            return ""
        if cs.empty:
            return ""
        items = split_change_set(cs)
        to_review = settle_applied_by_hand(items, self.workspace.user_root, self.console)
        result = None
        if auto:
            decide_all(to_review, "accept")
        elif to_review:
            result = run_review(to_review, self.console, self.ask, blob=cs.blob,
                                editor=self.io.editor)
        rep = apply_review(self.workspace, cs, items)
        self.undo_stack.append(self.workspace.snapshot("reviewed"))
        print_report(rep, self.console)
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
        sandbox = self.setup.sandbox
        res = self.runner.run(lambda: sandbox.exec(command, timeout=600, cancel=self.cancel))
        out = res.output.rstrip()
        if out:
            self.console.print(Text(out))
        status = "timed out" if res.timed_out else f"exit code {res.exit_code}"
        self.console.print(Text(f"[{status}]", style="dim"))
        self.pending_context.append(render("shell_escape.md", workdir=sandbox.workdir,
                                           command=command, output=out[-20000:],
                                           exit_code=res.exit_code, timed_out=res.timed_out))
        self.undo_stack.append(self.workspace.snapshot("shell"))


def _key_arg(call) -> str:
    from agent.ui.toolcalls import key_argument
    return key_argument(call.name, call.arguments)[:120]


def terminal_io() -> ReplIO:
    """The real terminal: rich prints through prompt-toolkit's stdout proxy, so output
    from the worker thread lands above the live region instead of through it."""
    from prompt_toolkit.patch_stdout import StdoutProxy
    proxy = StdoutProxy(raw=True, sleep_between_writes=0.02)
    console = Console(file=proxy, force_terminal=sys.stdout.isatty() or None, highlight=False)
    return ReplIO(console=console, proxy=proxy)


def run_repl(opts, first_message: str | None = None, auto_accept: bool = False) -> int:
    """`ama` in a terminal. Returns the exit code."""
    io = terminal_io()
    try:
        return Repl(opts, io, auto_accept=auto_accept).run(first_message)
    finally:
        io.proxy.close()
