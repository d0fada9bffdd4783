"""Constants and helpers shared by the tool tests (fixtures live in conftest.py)."""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

FEAT_DIM = 128  # the demo configs' width
DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'sola_bmn_demo.py')


def data_options(paths):
    """--cfg-options pointing the demo configs at ``paths``."""
    feat = paths['features'] + '/'
    return {'train_dataloader.dataset.ann_file': paths['train'],
            'train_dataloader.dataset.data_prefix.feature': feat,
            'val_dataloader.dataset.ann_file': paths['val'],
            'val_dataloader.dataset.data_prefix.feature': feat,
            'test_dataloader.dataset.ann_file': paths['val'],
            'test_dataloader.dataset.data_prefix.feature': feat,
            'val_evaluator.ann_file': paths['val'],
            'val_evaluator.classifier_file': paths['classifier'],
            'test_evaluator.ann_file': paths['val'],
            'test_evaluator.classifier_file': paths['classifier']}
