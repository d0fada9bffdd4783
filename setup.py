"""sola_mm: SoLa (Soft-Landing) temporal action localization toolkit for MMAction2.

The tested matrix is pinned below. torch is required as ``torch>=2.1`` only: the installer
(``tools/install.sh``) puts the CPU wheel ``torch==2.13.0`` in place first when no torch is
installed, so pip never pulls CUDA packages on a CPU machine, and an existing torch is kept.
"""
from setuptools import find_packages, setup


def read_version() -> str:
    scope: dict = {}
    with open('sola_mm/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='sola_mm',
    version=read_version(),
    description='SoLa (Soft-Landing, CVPR 2023) temporal action localization for MMAction2',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['sola_mm', 'sola_mm.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'numpy',
        'mmengine==0.10.7',
        'mmaction2==1.2.0',
        'mmcv-lite==2.1.0',          # mmaction 1.2.0 asserts mmcv < 2.2.0; no mmcv.ops needed
        'importlib-metadata',        # imported by mmaction/utils/dependency.py, undeclared
        'setuptools>=77.0.3,<82',    # torch 2.13 needs >=77.0.3; mmengine 0.10.7 needs pkg_resources
        'h5py',
        'matplotlib',
        'tqdm',
        'av>=12',                    # PyAV: video decoding (default backend) and the demo videos
    ],
    extras_require={'tests': ['pytest']},
    license='Apache-2.0',
)
