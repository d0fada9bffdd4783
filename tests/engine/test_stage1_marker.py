"""A damaged stage1_done.json must be reported with its path, not as a bare JSON error."""
import pytest

import sola_mm  # noqa: F401
from sola_mm.engine.hooks.stage1 import MARKER, read_stage1_marker


@pytest.mark.parametrize('content', ['{"checkpoint": "epoch_', '["epoch_1.pth"]'])
def test_damaged_marker_names_the_file(tmp_path, content):
    (tmp_path / MARKER).write_text(content)
    with pytest.raises(ValueError, match=MARKER):
        read_stage1_marker(str(tmp_path))


def test_marker_without_checkpoint_means_not_finished(tmp_path):
    (tmp_path / MARKER).write_text('{}')
    assert read_stage1_marker(str(tmp_path)) is None
