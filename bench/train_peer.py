# scikit-learn peer of bench/train_bench.cc: one epoch of SGDClassifier
# (log loss) and of MLPClassifier (plain SGD, same hidden size and batch) on
# the data train_bench wrote. Prints one JSON object: median ms per epoch.
# Usage: train_peer.py DATA.f32 LABELS.i32 ROWS FEATURES HIDDEN BATCH RUNS
import json
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier

path_x, path_y = sys.argv[1], sys.argv[2]
rows, features, hidden, batch, runs = map(int, sys.argv[3:8])
X = np.fromfile(path_x, dtype=np.float32).reshape(rows, features)
y = np.fromfile(path_y, dtype=np.int32)
warnings.simplefilter("ignore", ConvergenceWarning)


def median_ms(make):
    times = []
    for r in range(runs):
        model = make(r)
        t = time.perf_counter()
        model.fit(X, y)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


softmax = median_ms(lambda r: SGDClassifier(
    loss="log_loss", max_iter=1, tol=None, learning_rate="constant",
    eta0=0.05, alpha=1e-4, random_state=r))
mlp = median_ms(lambda r: MLPClassifier(
    hidden_layer_sizes=(hidden,), solver="sgd", batch_size=batch,
    learning_rate_init=0.05, momentum=0.0, nesterovs_momentum=False,
    alpha=1e-4, max_iter=1, shuffle=True, random_state=r))
print(json.dumps({"softmax_ms": softmax, "mlp_ms": mlp}))
