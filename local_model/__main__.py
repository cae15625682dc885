"""Command line.

    python -m local_model generate --checkpoint PATH --prompt TEXT
    python -m local_model serve --model PATH [--host 127.0.0.1 --port 8000 --device cuda --dtype bfloat16]
                                [--quantize int8|int4]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


QUANTIZE_CHOICES = ("int8", "int4")  # local_model.quant.MODES, without importing it at start-up
QUANTIZE_HELP = ("weight-only quantization at load: int8 (per output channel) or int4 (groups of 128); "
                 "embeddings, norms and routers stay in --dtype")


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise argparse.ArgumentTypeError(f"unknown dtype {name!r} (try bfloat16, float16, float32)")
    return dtype


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_model",
                                     description="Run DeepSeek-V2/V3-family and Qwen3-MoE checkpoints locally.")
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
    gen.add_argument("--quantize", choices=QUANTIZE_CHOICES, help=QUANTIZE_HELP)
    gen.add_argument("--stats", action="store_true", help="print token counts and speed to stderr")
    add_serve_arguments(commands.add_parser("serve", help="an OpenAI-compatible HTTP server (/v1/chat/completions)"))
    return parser


def add_serve_arguments(srv: argparse.ArgumentParser) -> argparse.ArgumentParser:
    srv.add_argument("--model", required=True, help="folder with config.json, *.safetensors, tokenizer.json")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--device", default="cpu", help="a torch device: cpu, cuda, cuda:1, ...")
    srv.add_argument("--dtype", type=_dtype, help="default: float32 on cpu, bfloat16 elsewhere")
    srv.add_argument("--quantize", choices=QUANTIZE_CHOICES, help=QUANTIZE_HELP)
    srv.add_argument("--max-batch", type=int, default=8, help="sequences decoded together (default 8)")
    srv.add_argument("--max-len", type=int, default=8192, help="tokens per sequence, prompt + completion (default 8192)")
    srv.add_argument("--served-model-name", help="the model id clients see (default: the folder's name)")
    srv.add_argument("--no-cuda-graphs", action="store_true", help="decode eagerly on CUDA")
    return srv


def run_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(args.model, host=args.host, port=args.port, device=args.device, dtype=args.dtype,
          max_batch=args.max_batch, max_len=args.max_len, served_name=args.served_model_name,
          cuda_graphs=not args.no_cuda_graphs, quantize=args.quantize)
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from . import load_model, load_tokenizer
    from .generate import generate, stream_text
    from .sampling import SamplingParams

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    tokenizer = load_tokenizer(args.checkpoint)
    model = load_model(args.checkpoint, device=args.device, dtype=args.dtype, quantize=args.quantize)
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
    if args.command == "serve":
        return run_serve(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
