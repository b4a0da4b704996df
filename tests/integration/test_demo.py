"""The demo end to end with a real Keras model registered as `champion` in a real SQLite MLflow
store: the DVC stage's code on the astronaut clip, and the CLI on a real photograph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from skimage import data

from facial_emotion.files import read_json, write_json
from facial_emotion.labels import EMOTIONS

REPO = Path(__file__).resolve().parents[2]
REGISTERED = "facial-emotion-demo-test"
EXPERIMENT = "demo-test"

pytestmark = pytest.mark.slow


def tiny_model():
    """Raw uint8 pixels in, 7 probabilities out, scaling inside: the contract every model keeps."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1), dtype="uint8")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1.0 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A project folder with params.yaml, a registered champion and reports/champion.json."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["mlflow"]["experiment"] = EXPERIMENT
        params["registry"] = {"model_name": REGISTERED}
        params["demo"]["clip"]["frames"] = 24
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

        import mlflow
        from mlflow import MlflowClient

        from facial_emotion import tracking

        tracking.configure(EXPERIMENT)
        with mlflow.start_run():
            info = mlflow.keras.log_model(tiny_model(), name="model", registered_model_name=REGISTERED)
        version = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(REGISTERED, "champion", version)
        write_json(root / "reports" / "champion.json", {"name": "tiny", "registered_model": REGISTERED,
                                                        "version": version, "model_uri": info.model_uri,
                                                        "data_source": "synthetic"})
        yield root


def test_stage_runs_the_champion_on_the_astronaut_clip(workdir):
    import mlflow

    from stages import demo as stage

    stage.main([])
    out = workdir / "reports" / "demo"
    for name in ("grid.png", "preview.png", "timeline.json", "frames.csv", "summary.json", "annotated.mp4"):
        assert (out / name).is_file(), name
    summary = read_json(out / "summary.json")
    assert summary["frames"] == 24 and summary["faces_tracked"] == 1 and summary["model_version"] == "1"
    assert summary["model_call"] == "keras predict_on_batch"
    assert summary["latency_ms_median"] > 0 and summary["fps"] > 0
    (face,) = read_json(out / "timeline.json")["faces"]
    assert face["segments"][0]["start_frame"] <= 3 and face["end_frame"] == 23
    crops = sorted((out / "crops").glob("face001_frame*.png"))
    assert len(crops) == 1 + face["label_changes"]

    # One row of crops (one per label change, up to 4 columns): 144 px faces over 22 px captions,
    # 4 px gaps; skin stays skin-coloured.
    grid = np.asarray(Image.open(out / "grid.png").convert("RGB")).astype(float)
    assert len(crops) <= 4 and grid.shape == (4 + 144 + 22 + 4, 4 + len(crops) * (144 + 4), 3)
    face_rgb = grid[4 + 40:4 + 110, 4 + 40:4 + 104]
    assert face_rgb[..., 0].mean() > face_rgb[..., 2].mean() + 20  # red over blue: not BGR shown as RGB

    run = mlflow.get_run(summary["mlflow_run_id"])
    assert run.data.tags["dvc_stage"] == "demo"
    assert run.data.metrics["latency_ms_median"] == pytest.approx(summary["latency_ms_median"])
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "demo")}
    assert "demo/grid.png" in artifacts


def test_cli_finds_classifies_and_draws_the_face_on_a_real_photograph(workdir, tmp_path):
    from facial_emotion.faces import demo

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    out = tmp_path / "out"
    summary = demo.main(["--source", str(photo), "--no-window", "--out", str(out),
                         "--model", f"models:/{REGISTERED}@champion"])
    assert summary["face_detections"] == 1 and summary["crops_saved"] == 1
    rows = (out / "frames.csv").read_text().splitlines()
    assert len(rows) == 2 and ",astronaut.png," in rows[1]
    assert rows[1].split(",")[10] in EMOTIONS  # the shown label
    preview = np.asarray(Image.open(out / "preview.png").convert("RGB"))
    original = data.astronaut()
    assert preview.shape == original.shape
    changed = np.any(preview != original, axis=2)
    assert changed[66:161, 176:271].any() and not changed[400:, :100].any()  # drawn at the face only
