"""Steady labels: smoothing, hysteresis and IoU tracking on synthetic probabilities and boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facial_emotion.faces.boxes import iou
from facial_emotion.faces.outputs import Timeline
from facial_emotion.faces.sources import Frame
from facial_emotion.faces.tracker import FaceTracker, LabelHysteresis, ProbabilitySmoother
from facial_emotion.labels import EMOTIONS
from facial_emotion.params import ParamsError, defaults, with_changes

REPO = Path(__file__).resolve().parents[2]

HAPPY, SAD, ANGER = EMOTIONS.index("happiness"), EMOTIONS.index("sadness"), EMOTIONS.index("anger")


def tracker_params(**changes):
    """params.yaml's `demo.tracker` defaults with `changes`, checked by the schema."""
    return with_changes(defaults.DEMO.tracker, "demo.tracker", **changes)


def onehot(label: int, confidence: float = 0.9) -> np.ndarray:
    probs = np.full(len(EMOTIONS), (1 - confidence) / (len(EMOTIONS) - 1))
    probs[label] = confidence
    return probs


def run_labels(tracker: FaceTracker, box, labels) -> list[int]:
    """Feed one face, one frame per label; the shown label after each frame."""
    return [tracker.update(np.array([box]), onehot(label)[None])[0].label for label in labels]


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [50, 50, 10, 10]])
    overlaps = iou(boxes, boxes)
    assert np.allclose(np.diag(overlaps), 1)
    assert overlaps[0, 1] == pytest.approx(50 / 150)
    assert overlaps[0, 2] == 0


def test_ema_and_window_smoothing():
    ema = ProbabilitySmoother(tracker_params(alpha=0.5))
    assert np.allclose(ema.update([1.0, 0.0]), [1.0, 0.0])
    assert np.allclose(ema.update([0.0, 1.0]), [0.5, 0.5])
    assert np.allclose(ema.update([0.0, 1.0]), [0.25, 0.75])
    window = ProbabilitySmoother(tracker_params(smoothing="window", window=2))
    window.update([1.0, 0.0])
    window.update([0.0, 1.0])
    assert np.allclose(window.update([0.0, 1.0]), [0.0, 1.0])  # the first frame has left the window


def test_hysteresis_ignores_a_flicker_and_follows_a_held_change_after_exactly_n_frames():
    labels = LabelHysteresis(hold_frames=3)
    assert labels.update(onehot(HAPPY)) is True  # first label is set at once
    assert [labels.update(onehot(x)) for x in (SAD, HAPPY, HAPPY)] == [False, False, False]
    assert labels.label == HAPPY
    assert [labels.update(onehot(SAD)) for _ in range(3)] == [False, False, True]
    assert labels.label == SAD


def test_a_leader_that_switches_restarts_the_count():
    labels = LabelHysteresis(hold_frames=2)
    labels.update(onehot(HAPPY))
    assert [labels.update(onehot(x)) for x in (SAD, ANGER, SAD)] == [False, False, False]
    assert labels.label == HAPPY


def test_one_frame_flicker_does_not_change_the_smoothed_label():
    tracker = FaceTracker(tracker_params(min_hits=1, hold_frames=3, alpha=0.5))
    shown = run_labels(tracker, (100, 100, 80, 80), [HAPPY] * 5 + [SAD] + [HAPPY] * 5)
    assert shown == [HAPPY] * 11


@pytest.mark.parametrize("smoothing", ["ema", "window"])
def test_held_change_takes_effect_after_hold_frames_and_not_before(smoothing):
    hold = 4
    tracker = FaceTracker(tracker_params(min_hits=1, hold_frames=hold, smoothing=smoothing, alpha=0.5, window=3))
    shown = run_labels(tracker, (100, 100, 80, 80), [HAPPY] * 5 + [SAD] * 12)
    first_sad = shown.index(SAD)
    assert first_sad >= 5 + hold - 1  # the raw change began at frame 5; at least `hold` frames later
    assert first_sad <= 5 + hold + 2  # smoothing delays it by a frame or two, no more
    assert shown[first_sad:] == [SAD] * (len(shown) - first_sad)


def test_without_smoothing_the_change_lands_on_the_nth_frame():
    tracker = FaceTracker(tracker_params(min_hits=1, hold_frames=3, alpha=1.0))
    shown = run_labels(tracker, (10, 10, 50, 50), [HAPPY, HAPPY, SAD, SAD, SAD, SAD])
    assert shown == [HAPPY, HAPPY, HAPPY, HAPPY, SAD, SAD]


def test_two_faces_keep_their_own_tracks_and_labels_while_moving():
    tracker = FaceTracker(tracker_params(min_hits=1, hold_frames=2))
    seen: dict[int, set[int]] = {}
    for t in range(12):
        left, right = [40 + 3 * t, 100, 90, 90], [400 - 3 * t, 120, 100, 100]
        # the detector's order changes from frame to frame; identities must follow the boxes
        if t % 2:
            boxes, probs = [left, right], [onehot(HAPPY), onehot(SAD)]
        else:
            boxes, probs = [right, left], [onehot(SAD), onehot(HAPPY)]
        for state in tracker.update(np.array(boxes), np.array(probs)):
            seen.setdefault(state.track_id, set()).add(state.label)
            assert (state.box[0] < 250) == (state.label == HAPPY)
    assert seen == {1: {SAD}, 2: {HAPPY}} or seen == {1: {HAPPY}, 2: {SAD}}


def test_a_one_frame_false_alarm_is_never_shown_and_uses_no_id():
    tracker = FaceTracker(tracker_params(min_hits=3))
    face = np.array([[100, 100, 80, 80]])
    false_alarm = np.array([[400, 300, 60, 60]])
    assert tracker.update(np.concatenate([face, false_alarm]), np.stack([onehot(HAPPY), onehot(SAD)])) == []
    assert tracker.update(face, onehot(HAPPY)[None]) == []
    states = tracker.update(face, onehot(HAPPY)[None])
    assert [(s.track_id, s.new, s.changed) for s in states] == [(1, True, True)]
    assert len(tracker.boxes) == 1


def test_a_face_missed_for_a_few_frames_keeps_its_id_then_its_track_ends():
    tracker = FaceTracker(tracker_params(min_hits=1, max_missed=2))
    face = np.array([[100, 100, 80, 80]])
    assert tracker.update(face, onehot(HAPPY)[None])[0].track_id == 1
    tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    assert tracker.update(face, onehot(HAPPY)[None])[0].track_id == 1
    for _ in range(3):
        tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    state = tracker.update(face, onehot(HAPPY)[None])[0]
    assert (state.track_id, state.new) == (2, True)


@pytest.mark.parametrize(("tracker", "message"), [
    ({"hold": 3}, "demo.tracker.hold"),
    ({"smoothing": "median"}, "demo.tracker.smoothing"),
    ({"alpha": 0}, "demo.tracker.alpha"),
    ({"max_missed": -1}, "demo.tracker.max_missed"),
])
def test_unknown_or_bad_tracker_params_are_one_line_errors(tracker, message):
    from facial_emotion.params import read_yaml, validate

    raw = read_yaml(REPO / "params.yaml")
    raw["demo"]["tracker"].update(tracker)
    with pytest.raises(ParamsError, match=message.replace(".", r"\.")) as error:
        validate(raw)
    assert "\n" not in str(error.value)


def test_the_demo_reads_the_validated_section_and_defaults_without_a_file(tmp_path):
    import yaml

    from facial_emotion.faces.startup import read_app_params
    from facial_emotion.params import read_yaml

    raw = read_yaml(REPO / "params.yaml")
    raw["demo"]["tracker"]["hold_frames"] = 7
    raw["demo"]["clip"]["frames"] = 11
    raw["demo"]["grid"]["columns"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    app = read_app_params(tmp_path / "params.yaml")
    assert (app.demo.tracker.hold_frames, app.demo.clip.frames, app.demo.grid.columns) == (7, 11, 3)
    assert app.seed == raw["seed"] and app.registered_model == raw["registry"]["model_name"]
    absent = read_app_params(tmp_path / "absent.yaml")
    assert absent.demo == defaults.DEMO and absent.seed == defaults.SEED and absent.experiment is None
    with pytest.raises(ParamsError, match=r"absent\.yaml: params file not found"):
        read_app_params(tmp_path / "absent.yaml", missing_ok=False)  # a file named by --params must exist


def test_a_command_line_change_is_checked_by_the_schema():
    with pytest.raises(ParamsError, match=r"^--max-frames: got 0, must be >= 1$"):
        with_changes(defaults.DEMO, "demo", max_frames=0)
    assert with_changes(defaults.DEMO, "demo", max_frames=None) is defaults.DEMO  # an option not given
    assert with_changes(defaults.DEMO, "demo", max_frames=5).max_frames == 5


def test_timeline_has_one_segment_per_steady_label_with_start_and_end():
    tracker, timeline = FaceTracker(tracker_params(min_hits=1, hold_frames=2, alpha=1.0)), Timeline()
    for i, label in enumerate([HAPPY] * 4 + [SAD] * 4):
        timeline.add(Frame(i, np.zeros((1, 1, 3), np.uint8), i / 10, f"frame {i}"),
                     tracker.update(np.array([[10, 10, 50, 50]]), onehot(label)[None]))
    (face,) = timeline.as_dict()["faces"]
    assert [(s["emotion"], s["start_frame"], s["end_frame"], s["frames"]) for s in face["segments"]] == [
        ("happiness", 0, 4, 5), ("sadness", 5, 7, 3)]
    assert face["segments"][1]["start_s"] == 0.5 and face["label_changes"] == 1
