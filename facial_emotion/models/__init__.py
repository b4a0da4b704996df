"""Model builders, the training loop, and the scikit-learn baselines."""
