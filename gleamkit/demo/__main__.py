"""Serve the web demo on a built gallery (see docs/demo.md).

    python -m gleamkit.demo --gallery gallery \
        [--explainer configs/gleam_x/tiny_qwen2_5_vl_lora_synthetic.py \
         --explainer-checkpoint work_dirs/tiny_qwen2_5_vl_lora_synthetic/epoch_12.pth] \
        [--host 127.0.0.1] [--port 7860]
"""

import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python tools/demo.py',
        description='A web page that localises images on a built gallery and lets GLEAM-X '
        'verify and explain the best tile (offline)',
    )
    parser.add_argument('--gallery', required=True, help='a directory written by localize build')
    parser.add_argument('--config', help="GLEAM-C config (default: the gallery's)")
    parser.add_argument('--checkpoint', help="GLEAM-C weights (default: the gallery's)")
    parser.add_argument('--explainer', help='a GLEAM-X config (configs/gleam_x/...)')
    parser.add_argument('--explainer-checkpoint', help="the GLEAM-X config's trained weights")
    parser.add_argument(
        '--answer-mode',
        choices=['explanation', 'label'],
        default='explanation',
        help='the prompt the explainer was trained with',
    )
    parser.add_argument(
        '--explain-timeout', type=float, default=120.0, help='seconds GLEAM-X may take per query'
    )
    parser.add_argument('--explain-top', type=int, default=1, help='top tiles GLEAM-X checks')
    parser.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda:0', ...")
    parser.add_argument('--host', default='127.0.0.1', help='0.0.0.0 serves other machines')
    parser.add_argument('--port', type=int, default=7860)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from .demo_app import launch_demo
    from .demo_backend import DemoBackend

    if args.explainer_checkpoint and not args.explainer:
        raise SystemExit('--explainer-checkpoint needs --explainer (the GLEAM-X config)')
    try:
        backend = DemoBackend.from_gallery(
            args.gallery,
            config=args.config,
            checkpoint=args.checkpoint,
            device=args.device,
            explainer=args.explainer,
            explainer_checkpoint=args.explainer_checkpoint,
            explain_timeout_s=args.explain_timeout,
            answer_mode=args.answer_mode,
            explain_top=args.explain_top,
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        raise SystemExit(f'cannot start the demo: {type(err).__name__}: {err}') from None
    if backend.georeference_problem:
        print(f'warning: {backend.georeference_problem}', file=sys.stderr)
    print(f'demo: http://{args.host}:{args.port}  (Ctrl+C stops it)', flush=True)
    launch_demo(backend, host=args.host, port=args.port, block=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
