"""Constants shared by the extraction tests (fixtures live in conftest.py)."""
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_RECOGNIZER = osp.join(ROOT, 'configs', 'extractors', 'tiny_r3d_demo.py')
