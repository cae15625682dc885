"""A tiny calculator with a bug for the demo: `add` subtracts."""


def add(a, b):
    return a - b


def mul(a, b):
    return a * b
