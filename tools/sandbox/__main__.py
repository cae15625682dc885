"""`python -m tools.sandbox build|doctor`: the same as `ama sandbox build|doctor`,
without the CLI (for .ci/setup_sandbox.sh)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.sandbox")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the sandbox image if it is missing")
    b.add_argument("--image", default=None)
    b.add_argument("--method", default="auto", choices=["auto", "dockerfile", "debootstrap"])
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    b.add_argument("--mirror", default=None, help="Debian mirror for debootstrap")
    d = sub.add_parser("doctor", help="say which sandbox a run would use, and why")
    d.add_argument("--image", default=None)
    args = ap.parse_args(argv)

    if args.cmd == "doctor":
        from tools.sandbox.select import doctor

        report = doctor(args.image)
        print(report.render())
        return 0 if report.backend else 1
    from tools.sandbox.image import DEFAULT_IMAGE, ImageBuildError, build_image

    try:
        result = build_image(args.image or DEFAULT_IMAGE, method=args.method, force=args.force,
                             mirror=args.mirror, log=lambda s: print(s, file=sys.stderr))
    except ImageBuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(result.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
