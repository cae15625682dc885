"""Command line: `python -m local_model generate --checkpoint PATH --prompt TEXT`."""

from __future__ import annotations

import argparse
import sys
import time

import torch


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise argparse.ArgumentTypeError(f"unknown dtype {name!r} (try bfloat16, float16, float32)")
    return dtype


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_model",
                                     description="Run DeepSeek-V2/V3-family MoE/MLA checkpoints locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="stream a completion for one prompt")
    gen.add_argument("--checkpoint", required=True, help="folder with config.json, *.safetensors, tokenizer.json")
    gen.add_argument("--prompt", required=True, help="the user message (or the raw text with --raw); '-' reads stdin")
    gen.add_argument("--system", help="a system message to put before the prompt")
    gen.add_argument("--raw", action="store_true", help="complete the prompt text as is, without the chat template")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--repetition-penalty", type=float, default=1.0)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--device", default="cpu", help="a torch device: cpu, cuda, cuda:1, mps, ...")
    gen.add_argument("--dtype", type=_dtype, help="default: float32 on cpu, bfloat16 elsewhere")
    gen.add_argument("--stats", action="store_true", help="print token counts and speed to stderr")
    return parser


def run_generate(args: argparse.Namespace) -> int:
    from . import load_model, load_tokenizer
    from .generate import generate, stream_text
    from .sampling import SamplingParams

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    tokenizer = load_tokenizer(args.checkpoint)
    model = load_model(args.checkpoint, device=args.device, dtype=args.dtype)
    if args.raw or tokenizer.chat_template is None:
        ids = tokenizer.encode(prompt, add_special_tokens=True)
    else:
        messages = ([{"role": "system", "content": args.system}] if args.system else [])
        ids = tokenizer.encode_chat(messages + [{"role": "user", "content": prompt}], add_generation_prompt=True)
    sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                              repetition_penalty=args.repetition_penalty, seed=args.seed)
    started, count = time.perf_counter(), 0

    def counted():
        nonlocal count
        for token in generate(model, ids, max_new_tokens=args.max_new_tokens, sampling=sampling,
                              stop_token_ids=tokenizer.stop_token_ids):
            count += 1
            yield token

    for piece in stream_text(counted(), tokenizer.decode):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if args.stats:
        elapsed = time.perf_counter() - started
        print(f"[{len(ids)} prompt tokens, {count} generated in {elapsed:.2f}s, "
              f"{count / elapsed:.2f} tok/s]", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        return run_generate(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
