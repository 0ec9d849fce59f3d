"""The gradio page of the demo: widgets wired to :class:`DemoBackend` calls."""

from typing import Tuple

from .demo_backend import LANGUAGES, DemoAnswer, DemoBackend

__all__ = ['build_demo_app', 'answer_outputs', 'launch_demo', 'results_markdown']

VIEW_CHOICES = [
    ('UAV / drone', 'uav'),
    ('ground photo', 'ground'),
    ('street-level panorama', 'panorama'),
    ('street map', 'map'),
]


def results_markdown(answer: DemoAnswer) -> str:
    """The top-K table as Markdown (rank, tile, score, centre; GLEAM-X columns if asked)."""
    if not answer.table:
        return ''
    head = ['rank', 'tile', 'score', 'lat', 'lon']
    if any(len(row) > len(head) for row in answer.table):
        head += ['GLEAM-X', 'P(match)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in answer.table:
        cells = [
            f'{v:.4f}' if isinstance(v, float) and i == 2 else str(v) for i, v in enumerate(row)
        ]
        cells += [''] * (len(head) - len(cells))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def answer_outputs(answer: DemoAnswer) -> Tuple:
    """The widgets' values for one answer, in :func:`build_demo_app`'s output order:
    status, query picture, map, tiles, table, verdict, heat maps."""
    return (
        answer.status,
        answer.query_image,
        answer.map_image,
        list(answer.tiles),
        results_markdown(answer),
        answer.verdict,
        list(answer.heatmaps),
    )


def _safe(fn):
    """Whatever goes wrong inside a callback is shown on the page; the server stays up."""

    def call(*args):
        try:
            return answer_outputs(fn(*args))
        except Exception as err:  # the page must say it, not die
            return answer_outputs(
                DemoAnswer(status=f'**Error:** the demo failed ({type(err).__name__}: {err}).')
            )

    return call


def build_demo_app(backend: DemoBackend, title: str = 'gleamkit: where was this image taken?'):
    """The :class:`gradio.Blocks` page over ``backend``."""
    import gradio as gr

    places = backend.builtin_places()
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(
            f'## {title}\n'
            'GLEAM-C retrieves the satellite tiles of the region that look most like the '
            'query; GLEAM-X says whether the best one is the same place, and why. '
            f'Gallery: {len(backend.localizer.gallery)} tiles'
            + (f', region {backend.raster}' if backend.raster else '')
            + (
                f'. **Warning:** {backend.georeference_problem}.'
                if backend.georeference_problem
                else '.'
            )
        )
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tab('Upload an image'):
                    upload = gr.File(label='query image (PNG, JPEG, TIFF)', elem_id='upload')
                    upload_view = gr.Radio(VIEW_CHOICES, value='uav', label='what the image shows')
                    upload_button = gr.Button(
                        'Localise the upload', variant='primary', elem_id='go-upload'
                    )
                with gr.Tab('Built-in world'):
                    if places:
                        place = gr.Dropdown(
                            places, value=places[0], label='place of the built-in world'
                        )
                    else:
                        gr.Markdown('This gallery was not built from the built-in world.')
                        place = gr.Dropdown([], value=None, label='place', interactive=False)
                    place_view = gr.Radio(VIEW_CHOICES, value='uav', label='seen from')
                    place_button = gr.Button(
                        'Localise this place',
                        variant='primary',
                        elem_id='go-builtin',
                        interactive=bool(places),
                    )
                topk = gr.Slider(
                    1, min(20, len(backend.localizer.gallery)), value=5, step=1, label='top K tiles'
                )
                lang = gr.Radio(
                    [(name, code) for code, name in LANGUAGES.items()],
                    value='en',
                    label='GLEAM-X language',
                )
                explain = gr.Checkbox(
                    value=backend.explainer is not None, label='ask GLEAM-X (verify + explain)'
                )
                query_image = gr.Image(label='query', interactive=False, height=220)
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id='status')
                verdict = gr.Markdown(elem_id='verdict')
                region_map = gr.Image(label='region map: top-K tiles', interactive=False)
                table = gr.Markdown(elem_id='results-table')
                tiles = gr.Gallery(label='top-K tiles', columns=5, height=220)
                heatmaps = gr.Gallery(
                    label='similarity heat map (query | top-1 tile)', columns=2, height=220
                )
        outputs = [status, query_image, region_map, tiles, table, verdict, heatmaps]
        upload_button.click(
            _safe(backend.answer_upload),
            [upload, upload_view, topk, lang, explain],
            outputs,
            api_name='localise_upload',
        )
        place_button.click(
            _safe(backend.answer_builtin),
            [place, place_view, topk, lang, explain],
            outputs,
            api_name='localise_builtin',
        )
    return app


def launch_demo(
    backend: DemoBackend, host: str = '127.0.0.1', port: int = 7860, block: bool = True, **kwargs
):
    """Serve the page on ``host:port`` (offline: no share link, no analytics, system fonts).
    ``block=False`` returns at once (tests); returns the gradio app."""
    import os

    import gradio as gr

    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    app = build_demo_app(backend)
    # system fonts: the default theme's Google fonts cannot be fetched offline
    theme = gr.themes.Default(
        font=['ui-sans-serif', 'system-ui', 'sans-serif'],
        font_mono=['ui-monospace', 'monospace'],
    )
    app.queue(default_concurrency_limit=1)  # one query at a time through the model
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        ssr_mode=False,
        theme=theme,
        max_file_size=backend.max_upload_bytes,
        quiet=not block,
        **kwargs,
    )
    return app
