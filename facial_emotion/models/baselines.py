"""The second study's baselines as scikit-learn pipelines that take raw uint8 faces.

Pipelines start with PixelScaler, so, like the CNNs, they take (n, 48, 48[, 1]) pixels 0-255 and
give 7 probabilities. The SVM's probabilities come from sigmoid calibration on a held-out slice
of the training data: SVC(probability=True) would fit five extra SVMs, too slow on 2 cores.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC, LinearSVC

from ..errors import PipelineError

if TYPE_CHECKING:
    from ..params.results import LogregSection, SvmSection

log = logging.getLogger(__name__)


class BaselineError(PipelineError, ValueError):
    """Baseline params that can't work."""


class PixelScaler(TransformerMixin, BaseEstimator):
    """uint8 faces of any shape (n, ...) -> float32 rows in [0, 1]."""

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's naming
        return self

    def transform(self, X):  # noqa: N803
        X = np.asarray(X)
        return X.reshape(len(X), -1).astype(np.float32) / 255.0


def subsample(images: np.ndarray, labels: np.ndarray, max_samples: int | None, seed: int):
    """A stratified, seeded subset when `max_train_samples` is set (for quick runs)."""
    if not max_samples or max_samples >= len(labels):
        return images, labels
    keep, _ = train_test_split(np.arange(len(labels)), train_size=int(max_samples), random_state=seed, stratify=labels)
    keep = np.sort(keep)
    return images[keep], labels[keep]


def fit_logreg(images: np.ndarray, labels: np.ndarray, cfg: LogregSection, seed: int) -> Pipeline:
    """L2 logistic regression, one-vs-rest as in the second study (sklearn 1.9 dropped multi_class=)."""
    model = Pipeline([
        ("scale", PixelScaler()),
        ("logreg", OneVsRestClassifier(
            LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, solver=cfg.solver, tol=cfg.tol, random_state=seed),
            n_jobs=cfg.n_jobs)),
    ])
    return model.fit(images, labels)


def fit_svm(images: np.ndarray, labels: np.ndarray, cfg: SvmSection, seed: int) -> Pipeline:
    """PCA(250) then an RBF SVM (exact, or a Nystroem approximation + linear SVM), calibrated."""
    method = cfg.method
    if method not in ("exact", "nystroem"):
        raise BaselineError(f"unknown SVM method {method!r}")
    fit_idx, cal_idx = train_test_split(np.arange(len(labels)), test_size=cfg.calibration_fraction,
                                        random_state=seed, stratify=labels)
    scaler = PixelScaler()
    started = time.perf_counter()
    pca = PCA(n_components=cfg.pca_components, svd_solver="randomized", whiten=cfg.whiten,
              random_state=seed).fit(scaler.transform(images[fit_idx]))
    features = pca.transform(scaler.transform(images))
    log.info("PCA(%d) in %.1fs, %.1f%% variance kept", pca.n_components_, time.perf_counter() - started,
             100 * pca.explained_variance_ratio_.sum())
    gamma = cfg.gamma
    if gamma == "scale":  # scikit-learn's rule, computed here so Nystroem gets the same kernel
        gamma = 1.0 / (features.shape[1] * features[fit_idx].var())
    started = time.perf_counter()
    if method == "exact":
        svm = SVC(C=cfg.C, kernel="rbf", gamma=float(gamma), cache_size=1000, random_state=seed)
    else:
        svm = make_pipeline(
            Nystroem(gamma=float(gamma), n_components=cfg.nystroem_components, random_state=seed),
            LinearSVC(C=cfg.C, random_state=seed),
        )
    svm.fit(features[fit_idx], labels[fit_idx])
    log.info("%s SVM on %d rows in %.1fs", method, len(fit_idx), time.perf_counter() - started)
    calibrated = CalibratedClassifierCV(FrozenEstimator(svm), method="sigmoid").fit(features[cal_idx], labels[cal_idx])
    return Pipeline([("scale", scaler), ("pca", pca), ("svm", calibrated)])


BASELINES = {"logreg": fit_logreg, "svm": fit_svm}
