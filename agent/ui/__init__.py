"""Rich renderers for the terminal UI. Each consumes events or plain values and prints
to a `rich.console.Console` it is given; nothing here reads input."""
