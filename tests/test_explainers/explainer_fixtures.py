"""Samples that follow the GLEAM-X sample contract, for the explainer tests."""
import numpy as np

from gleamkit.structures.explanation_data_sample import ExplanationDataSample

ANSWERS = {
    ('en', 1): 'The roads and buildings line up. They depict the same area.',
    ('en', 0): 'The layouts differ. The two images do not correspond.',
    ('zh', 1): '道路和建筑一致，它们是同一地点。',
    ('zh', 0): '布局不同，这两张图像不是同一地点。',
}
PROMPTS = {'en': 'Image 1 is a UAV image and image 2 is a satellite image. Same place?',
           'zh': '图像1是无人机图像，图像2是卫星图像。是否为同一地点？'}


def contract_sample(index: int, seed: int = 0, size: int = 48) -> dict:
    """One sample as the GLEAM-X pipeline packs it (the shared sample contract).

    Matching pairs show the same random blocks (the satellite image is a noisy
    copy of the query); non-matching pairs show unrelated blocks.
    """
    rng = np.random.default_rng([seed, index])
    label = index % 2
    lang = ('en', 'zh')[(index // 2) % 2]
    query = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)),
                    np.ones((8, 8, 1))).astype(np.uint8)
    other = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)),
                    np.ones((8, 8, 1))).astype(np.uint8)
    satellite = query if label else other
    satellite = np.clip(satellite.astype(int) + rng.integers(-8, 9, satellite.shape), 0,
                        255).astype(np.uint8)
    answer = ANSWERS[(lang, label)]
    meta = dict(id=f'pair-{seed}-{index}', view='uav', lang=lang, label=label,
                reference=answer, source='test')
    return dict(inputs=dict(images=[query, satellite], prompt=PROMPTS[lang], answer=answer),
                data_samples=ExplanationDataSample(metainfo=meta))


def contract_batch(indices, seed: int = 0) -> dict:
    """``pseudo_collate`` of :func:`contract_sample`\\ s."""
    samples = [contract_sample(i, seed) for i in indices]
    return dict(inputs=[s['inputs'] for s in samples],
                data_samples=[s['data_samples'] for s in samples])
