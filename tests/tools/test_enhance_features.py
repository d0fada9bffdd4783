"""Feature export (tools/enhance_features.py): the exported files equal SoLa applied online by the
stage-2 model, keep the input's shape and format, are skipped on a rerun and never half-written."""
import os
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tools_test_utils import DEMO_CONFIG, FEAT_DIM

import sola_mm.apis.enhance as enhance_api
import sola_mm.datasets.feature_io as feature_io
from sola_mm.datasets.feature_io import load_features


def _online_model(checkpoint):
    """The stage-2 model of the SoLa demo config with the stage-1 neck loaded, as training uses it
    (NeckLocalizer.extract_feat runs the frozen neck on stacked [B, C, T] inputs)."""
    from mmaction.registry import MODELS
    cfg = Config.fromfile(DEMO_CONFIG)
    model = MODELS.build(cfg.model)
    model.neck.load_pretrained(checkpoint)
    model.neck.freeze()
    return model.eval()


def _videos(folder, ext='.npy'):
    return sorted(f[:-len(ext)] for f in os.listdir(folder) if f.endswith(ext))


def test_export_round_trips_to_online_sola(tiny_data, sola_ckpt, tmp_path):
    import enhance_features
    out = tmp_path / 'sola_features'
    counts = enhance_features.main([DEMO_CONFIG, sola_ckpt, '--in', tiny_data['features'],
                                    '--out', str(out)])
    videos = _videos(tiny_data['features'])
    assert counts == dict(written=len(videos), skipped=0)
    assert _videos(str(out)) == videos and sorted(os.listdir(out)) == sorted(
        os.listdir(tiny_data['features']))  # nothing else (no temp file) is left
    model = _online_model(sola_ckpt)
    for video in videos:
        raw = load_features(os.path.join(tiny_data['features'], video + '.npy'), video=video)
        exported = np.load(out / f'{video}.npy')
        assert exported.shape == raw.shape and exported.dtype == np.float32
        with torch.no_grad():
            online = model.extract_feat([torch.from_numpy(np.array(raw).T)])[0].T.numpy()
        np.testing.assert_allclose(exported, online, rtol=0, atol=1e-6, err_msg=video)
        assert np.abs(exported - raw).max() > 1e-3  # the neck is not the identity


def test_export_csv_keeps_format(tiny_data, sola_ckpt, tmp_path):
    """MMAction2 CSV in (header + one row per snippet) gives MMAction2 CSV out, same shape."""
    src = tmp_path / 'csv_in'
    src.mkdir()
    videos = _videos(tiny_data['features'])[:3]
    for video in videos:
        feature_io.save_features_atomic(
            np.load(os.path.join(tiny_data['features'], video + '.npy')), str(src / f'{video}.csv'))
    neck = enhance_api.build_frozen_neck(Config.fromfile(DEMO_CONFIG), sola_ckpt)
    out = tmp_path / 'csv_out'
    counts = enhance_api.enhance_folder(neck, str(src), str(out), progress=False)
    assert counts == dict(written=3, skipped=0)
    for video in videos:
        raw = load_features(str(src / f'{video}.csv'), video=video)
        exported_file = out / f'{video}.csv'
        header = exported_file.read_text().splitlines()[0]
        assert len(header.split(',')) == FEAT_DIM and not header[0].isdigit()
        exported = load_features(str(exported_file), video=video)
        assert exported.shape == raw.shape
        # CSV holds 7 significant digits: equal to the online output up to that rounding
        np.testing.assert_allclose(exported, enhance_api.apply_neck(neck, raw), rtol=2e-6,
                                   atol=1e-6)


def test_export_rerun_skips_finished_and_resumes_interrupted(tiny_data, sola_ckpt, tmp_path,
                                                             monkeypatch):
    neck = enhance_api.build_frozen_neck(Config.fromfile(DEMO_CONFIG), sola_ckpt)
    videos = _videos(tiny_data['features'])
    out = tmp_path / 'out'
    real_apply, calls = enhance_api.apply_neck, []

    def interrupted(module, feats):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C while the 4th video is processed
        return real_apply(module, feats)

    monkeypatch.setattr(enhance_api, 'apply_neck', interrupted)
    with pytest.raises(KeyboardInterrupt):
        enhance_api.enhance_folder(neck, tiny_data['features'], str(out), progress=False)
    assert sorted(os.listdir(out)) == [f'{v}.npy' for v in videos[:3]]
    monkeypatch.setattr(enhance_api, 'apply_neck', real_apply)
    stamps = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out)}
    counts = enhance_api.enhance_folder(neck, tiny_data['features'], str(out), progress=False)
    assert counts == dict(written=len(videos) - 3, skipped=3)
    assert all(os.stat(out / f).st_mtime_ns == t for f, t in stamps.items())  # not rewritten
    again = enhance_api.enhance_folder(neck, tiny_data['features'], str(out), progress=False)
    assert again == dict(written=0, skipped=len(videos))
    forced = enhance_api.enhance_folder(neck, tiny_data['features'], str(out), overwrite=True,
                                        progress=False)
    assert forced == dict(written=len(videos), skipped=0)


def test_export_never_leaves_half_written_file(tiny_data, sola_ckpt, tmp_path, monkeypatch):
    """A write that dies midway (disk full, kill) leaves neither the target nor a temp file."""
    neck = enhance_api.build_frozen_neck(Config.fromfile(DEMO_CONFIG), sola_ckpt)
    src = tmp_path / 'in'
    src.mkdir()
    video = _videos(tiny_data['features'])[0]
    shutil.copy(os.path.join(tiny_data['features'], video + '.npy'), src)
    real_save = np.save

    def dies_midway(file, array, *args, **kwargs):
        file.write(b'\x93NUMPY partial')
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(feature_io.np, 'save', dies_midway)
    out = tmp_path / 'out'
    with pytest.raises(OSError, match='No space left'):
        enhance_api.enhance_folder(neck, str(src), str(out), progress=False)
    assert os.listdir(out) == []
    monkeypatch.setattr(feature_io.np, 'save', real_save)
    assert enhance_api.enhance_folder(neck, str(src), str(out), progress=False)['written'] == 1
    np.load(out / f'{video}.npy')  # a complete file


def test_export_rejects_bad_folders(tiny_data, sola_ckpt, tmp_path):
    neck = enhance_api.build_frozen_neck(Config.fromfile(DEMO_CONFIG), sola_ckpt)
    with pytest.raises(ValueError, match='same folder'):
        enhance_api.enhance_folder(neck, tiny_data['features'], tiny_data['features'])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        enhance_api.enhance_folder(neck, str(tmp_path / 'missing'), str(tmp_path / 'o'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='holds no'):
        enhance_api.enhance_folder(neck, str(tmp_path / 'empty'), str(tmp_path / 'o'))
