"""Generated video files (coloured moving shapes, H.264 mp4) and the tiny random recognizer."""
import pytest

import sola_mm  # noqa: F401
from sola_mm.extraction.demo_videos import write_video


@pytest.fixture(scope='session')
def video_dir(tmp_path_factory):
    """Two short videos (60 and 45 frames at 25 fps, 64x48) with known actions."""
    out = tmp_path_factory.mktemp('videos')
    write_video(str(out / 'clip_a.mp4'), 60, 25.0,
                [dict(segment=[0.4, 1.6], label='RedSquare')], seed=1)
    write_video(str(out / 'clip_b.mp4'), 45, 25.0,
                [dict(segment=[0.2, 1.0], label='BlueDisc')], seed=2)
    return out
