"""A video that ends before the frame count its container declares (issue 41, case 5): a real mp4
made here with OpenCV, its index moved to the front as phones write it, then cut at 60 %."""

from __future__ import annotations

import logging

import pytest

from facial_emotion.faces.sources import SourceError, VideoFile, open_source
from tests.support.mp4 import fast_start, write_clip

FRAMES = 50


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    index_last = write_clip(folder / "index-last.mp4", FRAMES).read_bytes()
    index_first = fast_start(index_last)
    cut = int(len(index_first) * 0.6)
    files = {"whole": index_first, "cut": index_first[:cut], "cut-index-last": index_last[:cut]}
    for name, data in files.items():
        (folder / f"{name}.mp4").write_bytes(data)
    return folder


def test_whole_video_is_complete(clips, caplog):
    with open_source(str(clips / "whole.mp4")) as source:
        assert isinstance(source, VideoFile) and source.expected_frames == FRAMES
        assert len(list(source)) == FRAMES
    assert source.truncated is False and "ends early" not in caplog.text


def test_video_cut_short_with_its_index_first_is_truncated_in_one_warning(clips, caplog):
    """The landed main read 31 of 50 frames and said nothing."""
    with caplog.at_level(logging.WARNING, logger="facial_emotion.faces.sources"):
        with open_source(str(clips / "cut.mp4")) as source:
            read = len(list(source))
    assert 0 < read < FRAMES and source.truncated is True and source.expected_frames == FRAMES
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert f"{read} of the {FRAMES} frames" in warnings[0] and "cut.mp4" in warnings[0]


def test_a_reader_that_stops_early_judges_nothing(clips):
    with open_source(str(clips / "cut.mp4")) as source:
        for frame in source:
            if frame.index == 5:
                break
    assert source.truncated is False


def test_video_cut_short_with_its_index_last_does_not_open(clips):
    with pytest.raises(SourceError, match="cannot read video"):
        open_source(str(clips / "cut-index-last.mp4"))
