"""prepare_runtime on a CPU-only machine: gloo must land in the config even without env_cfg."""
import pytest
import torch
from mmengine.config import Config

import sola_mm  # noqa: F401
from sola_mm.engine import launch


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU-only path')
@pytest.mark.parametrize('env_cfg', [None, dict(cudnn_benchmark=False)])
def test_gloo_backend_written_when_env_cfg_or_dist_cfg_missing(monkeypatch, env_cfg):
    started = []
    monkeypatch.setattr(launch, 'init_cpu_distributed',
                        lambda launcher, backend: started.append((launcher, backend)))
    cfg = Config(dict(launcher='pytorch') if env_cfg is None
                 else dict(launcher='pytorch', env_cfg=env_cfg))
    cfg = launch.prepare_runtime(cfg)
    assert cfg.env_cfg['dist_cfg']['backend'] == 'gloo'
    assert cfg.model_wrapper_cfg['device_ids'] is None
    assert started == [('pytorch', 'gloo')]
