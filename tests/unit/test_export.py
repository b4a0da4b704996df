"""The exported ONNX model is the Keras model: same probabilities on generated faces (a network with
the in-model augmentation and the project's custom layers, an ensemble with flip TTA, an eight-class
FER+ head) and on the shipped model; the class names travel in the file; a broken export is caught."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

from facial_emotion import pretrained  # noqa: E402
from facial_emotion.faces.classifier import load_classifier  # noqa: E402
from facial_emotion.faces.emotion_classifier import ModelLoadError  # noqa: E402
from facial_emotion.inference.export import ExportError, check_parity, export_checked, to_onnx  # noqa: E402
from facial_emotion.inference.onnx_model import load_onnx_classifier, session  # noqa: E402
from facial_emotion.labels import CONTEMPT, EMOTIONS, class_names  # noqa: E402
from facial_emotion.pretrained.build import sha256_file  # noqa: E402
from tests.support.sections import changed, defaults  # noqa: E402

AUGMENTATION = changed(defaults().augmentation, flip=True, rotation=0.1, shift=0.1, zoom=0.1, contrast=0.2, crop=40)
COMPACT = changed(defaults().cnn, architecture="compact", compact={"base_filters": 4, "blocks": [8, 16], "dropout": 0.1,
                                                                  "se_ratio": 4, "stem_padding": "same",
                                                                  "shortcut": "pool"})


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def _trained_like(model, seed: int = 1):
    """Random weights and moving statistics, so batch norm and every layer do real work."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) if "variance" not in v.path
                       else rng.uniform(0.5, 2, w.shape).astype(np.float32)
                       for w, v in zip(model.get_weights(), model.weights)])
    return model


def test_class_names_come_from_the_output_width():
    assert class_names(7) == EMOTIONS
    assert class_names(8) == (*EMOTIONS, CONTEMPT)
    with pytest.raises(ValueError, match="5 outputs"):
        class_names(5)


def test_a_network_with_augmentation_and_custom_layers_exports_its_inference_graph(tmp_path):
    from facial_emotion.models.architectures import build_model

    model = _trained_like(build_model(COMPACT, "relu", AUGMENTATION, seed=3))
    faces = _faces(300)
    result = export_checked(model, tmp_path / "m.onnx", faces, "generated", min_agreement=1.0)
    assert result["classes"] == list(EMOTIONS) and result["parity"]["agreement"] == 1.0
    assert result["parity"]["max_abs_difference"] < 1e-4
    onnx = load_onnx_classifier(tmp_path / "m.onnx")
    assert onnx.classes == EMOTIONS and onnx.runtime == "onnxruntime"
    first, again = onnx(faces[:16]), onnx(faces[:16])
    np.testing.assert_array_equal(first, again)  # no augmentation left: the same face gives the same answer


@pytest.mark.slow
def test_an_ensemble_with_flip_tta_exports_as_one_graph(tmp_path):
    from facial_emotion.evaluation.ensemble import build_ensemble, with_flip_tta
    from facial_emotion.models.architectures import build_model

    members = [_trained_like(build_model(COMPACT, a, AUGMENTATION, seed=s), seed=s)
               for s, a in ((1, "relu"), (2, "elu"))]
    ensemble = with_flip_tta(build_ensemble(members), name="ensemble_fliptta")
    path = tmp_path / "ensemble.onnx"
    to_onnx(ensemble, path, "ensemble")
    parity = check_parity(ensemble, path, _faces(200, seed=5), min_agreement=0.999)
    assert parity.ok and parity.max_abs_difference < 1e-4, parity.line()


def test_an_eight_class_model_carries_contempt_in_its_metadata(tmp_path):
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(8, activation="softmax")(keras.layers.Flatten()(x))
    model = _trained_like(keras.Model(inputs, outputs))
    to_onnx(model, tmp_path / "ferplus.onnx", "ferplus")
    onnx = load_onnx_classifier(tmp_path / "ferplus.onnx")
    assert onnx.classes[-1] == CONTEMPT and onnx(_faces(3)).shape == (3, 8)
    assert load_classifier(str(tmp_path / "ferplus.onnx")).classes == (*EMOTIONS, CONTEMPT)


@pytest.mark.slow
def test_a_disagreeing_model_fails_the_check(tmp_path):
    from facial_emotion.models.architectures import build_model

    exported = _trained_like(build_model(COMPACT, "relu", seed=1), seed=1)
    other = _trained_like(build_model(COMPACT, "relu", seed=1), seed=2)
    to_onnx(exported, tmp_path / "m.onnx", "exported")
    parity = check_parity(other, tmp_path / "m.onnx", _faces(200), min_agreement=0.999)
    assert not parity.ok and "needed 99.90%" in parity.line()


def test_only_keras_models_export(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ExportError, match="only Keras models"):
        to_onnx(LogisticRegression(), tmp_path / "x.onnx", "logreg")
    assert not (tmp_path / "x.onnx").exists()


def test_an_onnx_file_without_class_names_is_refused(tmp_path):
    import onnx

    from facial_emotion.models.architectures import build_model

    path = tmp_path / "m.onnx"
    to_onnx(build_model(COMPACT, "relu"), path, "x")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))
    with pytest.raises(ModelLoadError, match="no 'class_names' in the model's metadata"):
        load_onnx_classifier(path)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="junk.onnx: not a loadable ONNX model"):
        load_onnx_classifier(tmp_path / "junk.onnx")


@pytest.mark.parametrize("which", sorted(pretrained.SHIPPED))
def test_each_shipped_onnx_is_the_file_its_card_describes_and_matches_keras(which):
    shipped = pretrained.SHIPPED[which]
    card = shipped.card()["onnx"]
    assert sha256_file(shipped.onnx_file) == card["sha256"] and card["classes"] == shipped.card()["classes"]
    assert card["parity"]["agreement"] >= 0.999 and "FER2013" in card["parity_faces"]
    keras_model = load_classifier(str(shipped.keras_file)).raw_model
    parity = check_parity(keras_model, shipped.onnx_file, _faces(1000, seed=7), min_agreement=0.999)
    assert parity.ok and parity.max_abs_difference < 1e-4, parity.line()
    meta = session(shipped.onnx_file).get_modelmeta().custom_metadata_map
    assert json.loads(meta["class_names"]) == shipped.card()["classes"]
