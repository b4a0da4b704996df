"""The figures the two studies published, with the split each was measured on.

Only numbers stated in the studies' summaries are filled in; anything not transcribed is None
and shows as "n/a" in the comparison rather than being guessed.
"""

from __future__ import annotations

STUDY_1 = {
    "title": "Study 1: six CNN variants (no balancing, class weights, SMOTE; ReLU and ELU)",
    "split": "its own 80/20 random split (split.strategy: study1); the 20% part also chose its epochs",
    "macro_f1": 0.62,
    "per_class_f1": None,  # not transcribed in this repository
}

STUDY_2 = {
    "title": "Study 2: logistic regression, RBF SVM on 250 PCA components, CNN",
    "split": "FER2013 test data (the Kaggle image-folder test/ set)",
    "accuracy": {"logreg": 0.36, "svm": 0.45, "cnn": 0.5755},
}
