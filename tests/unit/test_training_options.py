"""Training options from params.yaml: each optimiser and schedule is the Keras object it names, the
schedules have the shape they promise, a time budget stops training. Wrong values are params.yaml's
schema's to refuse (tests/unit/test_params.py), before any training starts."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from facial_emotion.models.callbacks import Clock  # noqa: E402
from facial_emotion.models.rates import learning_rate_policy  # noqa: E402
from facial_emotion.models.training import TrainingError, make_optimizer  # noqa: E402
from tests.support.sections import changed, train  # noqa: E402


@pytest.fixture()
def train_cfg():
    return train(learning_rate=0.01, min_learning_rate=1e-5)


def _rates(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(step))) for step in steps])


def _optimizer(cfg, model=None):
    """The optimizer fit would make for cfg, 10 steps per epoch over 5 epochs."""
    return make_optimizer(cfg, learning_rate_policy(cfg, 10, 5, Clock())[0], model)


@pytest.mark.parametrize("name", ["plateau", "constant"])
def test_plateau_and_constant_start_from_the_learning_rate(train_cfg, name):
    rate, callbacks = learning_rate_policy(changed(train_cfg, lr_schedule=name), 10, 5, Clock())
    assert rate == 0.01
    assert [type(c).__name__ for c in callbacks] == (["ReduceLROnPlateau"] if name == "plateau" else [])


def test_plateau_halves_the_rate_on_its_monitor_down_to_the_floor(train_cfg):
    _, [plateau] = learning_rate_policy(train_cfg, 10, 5, Clock())
    reduce_lr = train_cfg.reduce_lr
    assert (plateau.monitor, plateau.mode, plateau.factor, plateau.patience, plateau.min_lr) == \
        (reduce_lr.monitor, "max", reduce_lr.factor, reduce_lr.patience, 1e-5)


def test_cosine_falls_from_the_rate_to_the_floor_over_all_epochs(train_cfg):
    schedule, callbacks = learning_rate_policy(changed(train_cfg, lr_schedule="cosine"), 10, 5, Clock())
    assert callbacks == []
    rates = _rates(schedule, [0, 25, 50, 80])
    assert rates[0] == pytest.approx(0.01)
    assert rates[1] == pytest.approx((0.01 + 1e-5) / 2, rel=1e-3)  # half-way down at half of the 50 steps
    assert rates[2] == pytest.approx(1e-5, rel=1e-3)
    assert rates[3] == pytest.approx(1e-5, rel=1e-3)  # stays at the floor


def test_onecycle_warms_up_linearly_then_anneals(train_cfg):
    cfg = changed(train_cfg, lr_schedule="onecycle", onecycle={"warmup_fraction": 0.2, "div_factor": 10.0})
    schedule, _ = learning_rate_policy(cfg, 10, 10, Clock())
    rates = _rates(schedule, [0, 10, 20, 60, 100])  # 100 steps, 20 of warm-up
    assert rates[0] == pytest.approx(0.001)
    assert rates[1] == pytest.approx(0.0055, rel=1e-3)  # half-way up
    assert rates[2] == pytest.approx(0.01)
    assert rates[3] == pytest.approx((0.01 + 1e-5) / 2, rel=1e-3)  # half-way down the remaining 80 steps
    assert rates[4] == pytest.approx(1e-5, rel=1e-3)
    assert np.all(np.diff(_rates(schedule, range(20))) > 0)


@pytest.mark.parametrize(("name", "cls"), [("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD")])
def test_each_optimizer_is_the_keras_one(train_cfg, name, cls):
    decay = 0.05 if name == "adamw" else 0.0
    optimizer = _optimizer(changed(train_cfg, optimizer=name, weight_decay=decay, momentum=0.8))
    assert type(optimizer).__name__ == cls
    if name == "adamw":
        assert optimizer.weight_decay == pytest.approx(0.05)
    if name == "sgd":
        assert optimizer.nesterov and optimizer.momentum == pytest.approx(0.8)


def _decayed_by_one_step(cfg, names, **changes):
    """Each named weight's value (all start at 1.0) after one AdamW step with zero gradients:
    Adam's own update is then zero, so only the decoupled decay moves a weight."""
    optimizer = _optimizer(changed(cfg, optimizer="adamw", lr_schedule="constant", ema_momentum=None, **changes))
    weights = [keras.Variable(np.ones(3, dtype="float32"), name=name) for name in names]
    optimizer.apply_gradients([(keras.ops.zeros(3), weight) for weight in weights])
    return {name: float(keras.ops.convert_to_numpy(weight)[0]) for name, weight in zip(names, weights)}


def test_adamw_decays_every_weight_by_default(train_cfg):
    after = _decayed_by_one_step(train_cfg, ["kernel", "gamma", "bias"], weight_decay=0.5)
    assert after == pytest.approx({"kernel": 1 - 0.01 * 0.5, "gamma": 0.995, "bias": 0.995})


def test_weight_decay_exclude_keeps_the_named_weights_undecayed(train_cfg):
    after = _decayed_by_one_step(train_cfg, ["kernel", "depthwise_kernel", "gamma", "beta", "bias"], weight_decay=0.5,
                                 weight_decay_exclude=["gamma", "beta", "bias"])
    assert after == pytest.approx({"kernel": 0.995, "depthwise_kernel": 0.995, "gamma": 1.0, "beta": 1.0, "bias": 1.0})


def test_weight_decay_exclude_names_are_parts_not_patterns(train_cfg):
    """`.` in a name part is a dot, not any character: the names reach Keras' regex escaped."""
    after = _decayed_by_one_step(train_cfg, ["bias", "b.as"], weight_decay=0.5, weight_decay_exclude=["b.as"])
    assert after == pytest.approx({"bias": 0.995, "b.as": 1.0})


def test_weight_decay_exclude_name_matching_no_weight_is_named(train_cfg):
    from facial_emotion.models.architectures import build_compact

    model = build_compact(activation="relu", base_filters=4, blocks=[8, 16], dropout=0.0)
    with pytest.raises(TrainingError, match="train.weight_decay_exclude: 'gama' names no trainable weight .*gamma"):
        _optimizer(changed(train_cfg, optimizer="adamw", weight_decay_exclude=["gamma", "gama"]), model)
    _optimizer(changed(train_cfg, optimizer="adamw", weight_decay_exclude=["gamma", "bias"]), model)


def _tiny_fit(cfg, epochs):
    from facial_emotion.models.architectures import build_compact
    from facial_emotion.models.training import fit

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8), np.arange(64) % 7
    cfg = changed(cfg, epochs=epochs, batch_size=32, early_stopping={"monitor": "val_accuracy", "patience": epochs})
    return fit(build_compact(blocks=(8, 8, 8, 8)), images[:48], labels[:48], images[48:], labels[48:], cfg)


def test_time_budget_stops_after_the_epoch_that_would_overrun_it(train_cfg):
    result = _tiny_fit(changed(train_cfg, time_budget_minutes=1e-6), epochs=5)
    assert result.stopped_by_time_budget and not result.stopped_early
    assert len(result.history) == 1


def test_no_time_budget_runs_every_epoch(train_cfg):
    result = _tiny_fit(changed(train_cfg, time_budget_minutes=None), epochs=3)
    assert not result.stopped_by_time_budget and len(result.history) == 3


class _SlowClock:
    """The callbacks' `time` module on a machine `factor` times slower: each second counts as `factor`."""

    def __init__(self, factor: float):
        self.factor = factor

    def __getattr__(self, name):
        return getattr(time, name)

    def perf_counter(self) -> float:
        return time.perf_counter() * self.factor


@pytest.mark.parametrize("schedule", ["cosine", "cosine_time"])
def test_an_epoch_budget_ends_at_the_same_step_on_a_machine_a_thousand_times_slower(train_cfg, monkeypatch,
                                                                                    caplog, schedule):
    """A recipe's length in epochs (a cosine over them) ends at the same step on any CPU; a budget in
    minutes (cosine_time) gives the slow machine fewer epochs, which is why recipes no longer use one."""
    from facial_emotion.models import callbacks

    cfg = changed(train_cfg, lr_schedule=schedule, time_budget_minutes=2.0 if schedule == "cosine_time" else None)
    runs = {}
    for factor in (1.0, 1000.0):
        monkeypatch.setattr(callbacks, "time", _SlowClock(factor))
        with caplog.at_level(logging.INFO, logger=callbacks.log.name):
            caplog.clear()
            runs[factor] = _tiny_fit(cfg, epochs=3).history
        said = [r.getMessage() for r in caplog.records if "images/s on this machine" in r.getMessage()]
        assert len(said) == 1 and "epochs 1-3 should take about" in said[0]  # said once, after the first epoch
    if schedule == "cosine":
        assert len(runs[1.0]) == len(runs[1000.0]) == 3
        assert [r["learning_rate"] for r in runs[1000.0]] == pytest.approx([r["learning_rate"] for r in runs[1.0]])
        assert runs[1000.0][-1]["learning_rate"] == pytest.approx(1e-5, rel=1e-3)  # the cosine ended at its floor
    else:
        assert len(runs[1.0]) == 3 and len(runs[1000.0]) < 3


def test_cosine_time_runs_from_peak_to_floor_over_the_budget_and_stays_there(train_cfg):
    rate, [callback] = learning_rate_policy(changed(train_cfg, lr_schedule="cosine_time", time_budget_minutes=2.0),
                                            10, 5, Clock())
    assert rate == 0.01
    at = [callback.rate_at(seconds) for seconds in (-60, 0, 60, 120, 240)]
    assert at == pytest.approx([0.01, 0.01, (0.01 + 1e-5) / 2, 1e-5, 1e-5])


def test_cosine_time_anneals_over_the_budget(train_cfg):
    result = _tiny_fit(changed(train_cfg, lr_schedule="cosine_time", time_budget_minutes=1e-6), epochs=5)
    assert result.stopped_by_time_budget and len(result.history) == 1
    assert result.history[0]["learning_rate"] == pytest.approx(1e-5)  # the budget is spent: the rate is at its floor


def test_training_dataset_covers_every_image_once_per_pass_and_reshuffles():
    from facial_emotion.models.training import training_dataset

    images = np.arange(10, dtype=np.uint8)[:, None, None].repeat(48, 1).repeat(48, 2)
    labels = np.arange(10) % 7

    def passes(seed):
        batches = list(training_dataset(images, labels, 4, seed).take(6).as_numpy_iterator())
        order = np.concatenate([x[:, 0, 0, 0] for x, _ in batches])
        return order[:10], order[10:], np.concatenate([y.argmax(1) for _, y in batches])

    first, second, label_order = passes(7)
    assert sorted(first) == sorted(second) == list(range(10))  # batches of 4, 4, 2 per pass
    assert list(first) != list(second)
    np.testing.assert_array_equal(label_order, labels[np.concatenate([first, second])])
    np.testing.assert_array_equal(passes(7)[0], first)


def test_mixup_blends_faces_and_labels_by_the_same_weight():
    from facial_emotion.models.training import training_dataset

    # Face k is a flat image of grey level 10 * k with label k, so each blended face's grey level
    # must be its label's weights applied to the levels, whichever faces were paired.
    levels = np.arange(7, dtype=np.float32) * 10
    images = levels.astype(np.uint8)[:, None, None].repeat(48, 1).repeat(48, 2)
    batches = list(training_dataset(images, np.arange(7), 7, seed=4, mixup=0.4).take(8).as_numpy_iterator())
    mixed = 0
    for faces, targets in batches:
        assert faces.dtype == np.float32 and np.allclose(targets.sum(axis=1), 1.0, atol=1e-5)
        assert (faces == faces[:, :1, :1, :]).all()  # a blend of flat faces stays flat
        np.testing.assert_allclose(faces[:, 0, 0, 0], targets @ levels, atol=1e-3)
        mixed += int(((targets > 0.02) & (targets < 0.98)).any(axis=1).sum())
    assert mixed > 10  # of 56 faces, many really are mixed with another class


def test_mixup_off_leaves_faces_and_labels_as_they_are():
    from facial_emotion.models.training import training_dataset

    images = np.arange(10, dtype=np.uint8)[:, None, None].repeat(48, 1).repeat(48, 2)
    labels = np.arange(10) % 7
    for faces, targets in training_dataset(images, labels, 5, seed=1, mixup=0.0).take(4).as_numpy_iterator():
        assert faces.dtype == np.uint8 and set(np.unique(targets)) == {0.0, 1.0}
        np.testing.assert_array_equal(targets.argmax(1), labels[faces[:, 0, 0, 0]])


def test_outlier_exposure_appends_noise_smooth_noise_and_flat_frames_with_equal_odds():
    from facial_emotion.models.training import training_dataset

    images = np.full((20, 48, 48), 90, np.uint8)
    labels = np.arange(20) % 7

    def batches():
        return list(training_dataset(images, labels, 10, seed=2, outliers=0.5).take(4).as_numpy_iterator())

    first = batches()
    for faces, targets in first:
        assert faces.shape == (15, 48, 48, 1) and targets.shape == (15, 7)
        assert (faces[:10] == 90).all() and set(targets[:10].argmax(1)) <= set(range(7))
        np.testing.assert_array_equal(targets[:10].max(1), 1.0)
        np.testing.assert_allclose(targets[10:], 1 / 7)
        outliers = faces[10:, ..., 0]
        spread, step = outliers.std(axis=(1, 2)), np.abs(np.diff(outliers, axis=2)).mean(axis=(1, 2))
        assert (spread[:3] > 50).all() and (step[:3] > 50).all()  # pixel noise: 3 of the 5
        assert spread[3] > 10 and step[3] < 15                     # smooth noise: a coarse grid blown up
        assert spread[4] == 0                                      # a flat frame
        assert ((faces[10:] >= 0) & (faces[10:] < 256)).all()
    assert not np.array_equal(first[0][0][10:], first[1][0][10:])  # new non-faces every step
    for (a, _), (b, _) in zip(first, batches()):
        np.testing.assert_array_equal(a, b)   # ... and the same ones on a rerun or a resume


def test_outlier_exposure_off_adds_nothing_and_a_small_share_adds_one():
    from facial_emotion.models.training import training_dataset

    images, labels = np.zeros((8, 48, 48), np.uint8), np.arange(8) % 7
    assert next(iter(training_dataset(images, labels, 8, seed=1)))[0].shape[0] == 8
    assert next(iter(training_dataset(images, labels, 8, seed=1, outliers=0.01)))[0].shape[0] == 9


@pytest.mark.slow  # fits a tiny network twice for eight short epochs
def test_a_network_trained_with_outlier_exposure_is_unsure_of_noise(train_cfg):
    """The point of the option: the same network on the same faces, with and without non-faces in
    its batches. Without, noise gets whatever class the faces taught it, with confidence; with,
    the answer on noise is near equal odds, while the faces are still learned. The "faces" are grey
    frames with a bright patch whose place is the class: learned in a few epochs."""
    from facial_emotion.models.architectures import build_compact
    from facial_emotion.models.training import fit

    rng = np.random.default_rng(5)
    labels = np.arange(1400) % 7  # 630 steps: enough for batch norm's moving statistics to settle
    images = np.clip(rng.normal(110, 12, (1400, 48, 48)), 0, 255).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 6 + 5 * label:11 + 5 * label, 10:38] = 230
    noise = rng.integers(0, 256, (50, 48, 48), dtype=np.uint8)
    cfg = changed(train_cfg, epochs=8, batch_size=16, learning_rate=0.005, lr_schedule="constant",
                  early_stopping={"patience": 8})
    top = {}
    for share in (0.0, 0.25):
        keras.utils.set_random_seed(3)
        model = build_compact(blocks=(8, 8, 16, 16))
        result = fit(model, images[:1260], labels[:1260], images[1260:], labels[1260:],
                     changed(cfg, outlier_exposure=share), seed=3)
        assert result.history[-1]["val_accuracy"] > 0.9, (share, result.history[-1])
        top[share] = float(model.predict(noise[..., None], verbose=0).max(1).mean())
    assert top[0.25] < 0.3 and top[0.25] < top[0.0] - 0.2, top


@pytest.mark.slow  # fits a tiny network for two epochs, then evaluates it (the fast tier keeps the short fits)
def test_fit_trains_with_mixup_and_validates_on_unblended_faces(train_cfg):
    """The last epoch's validation figures are Keras' own evaluate on the plain faces and one-hot
    labels: blended validation faces or labels would give another loss."""
    from facial_emotion.models.training import one_hot

    cfg = changed(train_cfg, mixup=0.2, restore="last", ema_momentum=None)
    model, result, images, labels = _fit_keeping_model(cfg, epochs=2)
    expected = model.evaluate(images[..., None], one_hot(labels), batch_size=32, verbose=0, return_dict=True)
    assert len(result.history) == 2 and np.isfinite(result.history[-1]["loss"])
    assert result.history[-1]["val_loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert result.history[-1]["val_accuracy"] == pytest.approx(expected["accuracy"])


def test_validation_figures_match_keras_evaluate():
    from facial_emotion.models.architectures import build_compact
    from facial_emotion.models.callbacks import Validation
    from facial_emotion.models.training import one_hot

    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8), rng.integers(0, 7, 40)
    model = build_compact(blocks=(8, 8, 8, 8), l2=1e-3)
    model.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    callback = Validation(images, labels, 16)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    expected = model.evaluate(images[..., None], one_hot(labels), batch_size=40, verbose=0, return_dict=True)
    assert logs["val_accuracy"] == pytest.approx(expected["accuracy"])
    assert logs["val_loss"] == pytest.approx(expected["loss"], rel=1e-4)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_ema_momentum_turns_on_the_optimizers_moving_average(train_cfg, name):
    assert not _optimizer(changed(train_cfg, optimizer=name, ema_momentum=None)).use_ema
    optimizer = _optimizer(changed(train_cfg, optimizer=name, ema_momentum=0.95))
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.95)


class _ChooseBestAndKeepSteps(keras.callbacks.Callback):
    """First among fit's callbacks: keeps the raw weights after every optimizer step (the model holds
    them until SwapEMA swaps the average in at the epoch's end) and logs `chosen_loss`, lowest at the
    epoch named best. Early stopping monitors it, so which epoch is best depends on no CPU's rounding."""

    def __init__(self, best_epoch: int):
        super().__init__()
        self.best_epoch, self.steps = best_epoch, []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.array(w) for w in self.model.trainable_weights])

    def on_epoch_end(self, epoch, logs=None):
        logs["chosen_loss"] = 0.0 if epoch + 1 == self.best_epoch else 1.0 + epoch


def _fit_keeping_model(cfg, epochs, first_callback=None):
    """A tiny compact network fitted with cfg on random faces; returns it, the result and the
    validation faces. `first_callback` runs before fit's own callbacks (the model's `fit` is
    wrapped to put it there; everything else is the real training path)."""
    from facial_emotion.models.architectures import build_compact
    from facial_emotion.models.training import fit

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (96, 48, 48), dtype=np.uint8), np.arange(96) % 7
    cfg = cfg.model_copy(update={"epochs": epochs, "batch_size": 16, "learning_rate": 0.01, "lr_schedule": "constant",
                                 "early_stopping": cfg.early_stopping.model_copy(update={"patience": epochs})})
    model = build_compact(blocks=(8, 8, 8, 8))
    if first_callback is not None:
        keras_fit = model.fit
        model.fit = lambda *args, callbacks, **kwargs: keras_fit(*args, callbacks=[first_callback, *callbacks],
                                                                 **kwargs)
    result = fit(model, images[:64], labels[:64], images[64:], labels[64:], cfg, seed=3)
    return model, result, images[64:], labels[64:]


def _moving_average(steps: list[list[np.ndarray]], momentum: float) -> list[list[np.ndarray]]:
    """The average after each step, computed here from the raw weights: after step 0 it is the
    weights, after step t it is m * average + (1 - m) * weights, m = min(momentum, (1 + t) / (W + t))
    with W = EMA_WARMUP (TensorFlow's ExponentialMovingAverage warm-up). Keras starts the average's
    slots at zero; a first step that averaged with them pulled the result toward zero."""
    from facial_emotion.models.training import EMA_WARMUP

    average = [np.zeros(w.shape) for w in steps[0]]
    averages = []
    for t, weights in enumerate(steps):
        m = min(momentum, (1 + t) / (EMA_WARMUP + t)) if t else 0.0
        average = [m * a + (1 - m) * w.astype(np.float64) for a, w in zip(average, weights)]
        averages.append(average)
    return averages


@pytest.mark.slow  # fits three tiny networks for up to three epochs each (the fast tier keeps the short fits)
@pytest.mark.parametrize(("best_epoch", "time_budget"), [(3, None), (2, None), (1, 1e-6)],
                         ids=["best-is-last", "best-is-not-last", "time-budget-ends-it-after-the-best"])
def test_with_ema_the_model_returned_is_the_validated_average(train_cfg, best_epoch, time_budget):
    """fit returns the moving average of the weights at the best epoch, and those weights are the
    ones validated there. Three ways the mechanics differ: the best epoch is the last (Keras'
    SwapEMAWeights copies the average back into the optimizer and its finalize step hands it back),
    an earlier one (early stopping restores it), or a time budget stops training before `epochs`
    (Keras' finalize alone would hand back the raw weights: KeepLastWeights' reason, here early
    stopping's restore). The average is computed here, step by step, from the raw weights."""
    from facial_emotion.models.training import one_hot

    chooser = _ChooseBestAndKeepSteps(best_epoch)
    # chosen_loss is no monitor params.yaml allows: set without the schema's check.
    cfg = changed(train_cfg, time_budget_minutes=time_budget, ema_momentum=0.9)
    cfg = cfg.model_copy(update={"early_stopping": cfg.early_stopping.model_copy(update={"monitor": "chosen_loss"})})
    model, result, images, labels = _fit_keeping_model(cfg, epochs=3, first_callback=chooser)
    assert result.best_epoch == best_epoch and len(result.history) == (1 if time_budget else 3)
    steps_per_epoch = len(chooser.steps) // len(result.history)
    at_best = steps_per_epoch * best_epoch - 1
    average = _moving_average(chooser.steps, 0.9)[at_best]
    returned = [np.array(w) for w in model.trainable_weights]
    for got, want in zip(returned, average):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    raw_gap = max(float(np.abs(r - w).max()) for r, w in zip(chooser.steps[at_best], returned))
    assert raw_gap > 1e-3  # the raw weights are far outside that tolerance: returning them would fail above
    # Scored as the Validation callback scores it.
    loss = model.loss(one_hot(labels), model.predict(images[..., None], verbose=0))
    assert result.history[best_epoch - 1]["val_loss"] == pytest.approx(float(keras.ops.convert_to_numpy(loss)),
                                                                       rel=1e-4)


@pytest.mark.slow  # fits a tiny network for several epochs (the fast tier keeps the short fits)
@pytest.mark.parametrize(("restore", "time_budget"), [("best", None), ("last", None), ("last", 1e-6)])
def test_restore_keeps_the_chosen_epochs_weights_in_the_model(train_cfg, restore, time_budget):
    """The model fit returns holds the weights validated at the chosen epoch:
    the best one under `restore: best`, the last one under `last`. With EMA those are the average's,
    also when a time budget ends training before `epochs` (then Keras' finalize step alone would hand
    back the raw weights: KeepLastWeights).

    A learning rate of 0.05 on 64 random faces makes validation loss rise epoch on epoch (2.1, 4.1,
    8.1, ... when written), so over six epochs the best epoch is the first and the last is not it.
    """
    from facial_emotion.models.architectures import build_compact
    from facial_emotion.models.training import fit, one_hot

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (96, 48, 48), dtype=np.uint8), np.arange(96) % 7
    cfg = changed(train_cfg, epochs=3 if time_budget else 6, batch_size=16, learning_rate=0.05, lr_schedule="constant",
                  restore=restore, ema_momentum=0.5, time_budget_minutes=time_budget,
                  early_stopping={"monitor": "val_loss", "patience": 6})
    model = build_compact(blocks=(8, 8, 8, 8))
    result = fit(model, images[:64], labels[:64], images[64:], labels[64:], cfg, seed=5)
    if time_budget is None:
        assert result.best_epoch < len(result.history), "the data should make the last epoch worse than the best"
    assert result.kept_epoch == (result.best_epoch if restore == "best" else len(result.history))
    # As the validation callback scores it: model.evaluate would take the loss from the softmax's
    # logits, which differs from the clipped loss on probabilities this saturated model gives.
    probabilities = model.predict(images[64:, ..., None], verbose=0)
    loss = float(keras.ops.convert_to_numpy(model.loss(one_hot(labels[64:]), probabilities)))
    assert result.history[result.kept_epoch - 1]["val_loss"] == pytest.approx(loss, rel=1e-4)
