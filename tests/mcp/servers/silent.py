"""A process that never answers `initialize` (nor anything else): the startup-timeout case."""
import time

time.sleep(120)
