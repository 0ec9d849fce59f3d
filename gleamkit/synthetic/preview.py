"""A labelled figure of a few locations in every view (PIL only)."""

import os
from typing import Optional, Sequence

from PIL import Image, ImageDraw, ImageFont

from .world.synthetic_world import VIEWS, SyntheticWorld, _check_views

__all__ = ['preview_figure', 'save_preview']

_TITLES = {
    'satellite': 'satellite (reference)',
    'map': 'street map',
    'uav': 'UAV / drone',
    'panorama': 'street panorama (N at centre)',
    'ground': 'ground photo',
}


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # old Pillow without scalable default font
        return ImageFont.load_default()


def preview_figure(
    world: SyntheticWorld,
    location_ids: Optional[Sequence[int]] = None,
    views: Sequence[str] = VIEWS,
    cell: int = 144,
) -> Image.Image:
    """Rows = locations, columns = views (the panorama is twice as wide)."""
    views = _check_views(views)
    if location_ids is None:
        location_ids = world.query_ids[:3]
    location_ids = list(location_ids)
    pad, head, left = 6, 22, 118
    widths = [2 * cell if v == 'panorama' else cell for v in views]
    W = left + sum(widths) + pad * (len(views) + 1)
    H = head + len(location_ids) * (cell + pad) + pad
    fig = Image.new('RGB', (W, H), (250, 250, 248))
    draw = ImageDraw.Draw(fig)
    f_head, f_text = _font(13), _font(11)
    x = left + pad
    for v, w in zip(views, widths):
        draw.text((x + 2, 5), _TITLES[v], fill=(30, 30, 30), font=f_head)
        x += w + pad
    for row, i in enumerate(location_ids):
        y = head + row * (cell + pad)
        p = world.locations[i]
        lines = [
            f'location {i}',
            f'{p.lat:.5f} N',
            f'{p.lon:.5f} E',
            f'split: {p.split}',
            f'semi-pos: {len(world.semi_positive_ids(i))}',
        ]
        for k, line in enumerate(lines):
            draw.text((6, y + 8 + 16 * k), line, fill=(40, 40, 40), font=f_text)
        x = left + pad
        for v, w in zip(views, widths):
            if p.is_distractor and v != 'satellite':
                draw.rectangle([x, y, x + w - 1, y + cell - 1], outline=(200, 200, 200))
                draw.text(
                    (x + 8, y + cell // 2 - 6),
                    'distractor: no query',
                    fill=(120, 120, 120),
                    font=f_text,
                )
            else:
                img = Image.fromarray(world.render(i, v))
                fig.paste(img.resize((w, cell), Image.BILINEAR), (x, y))
            x += w + pad
    return fig


def save_preview(
    world: SyntheticWorld, path: str, location_ids=None, views=VIEWS, cell: int = 144
) -> str:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    fig = preview_figure(world, location_ids, views, cell)
    if path.lower().endswith('.png'):  # 256-colour palette: ~3x smaller, looks the same
        fig = fig.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )
    fig.save(path, optimize=True)
    return path
