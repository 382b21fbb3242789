"""Logistic-regression inference on shared features (fixed point).

Party 1 holds a feature matrix (m samples × D features, sent flattened), party 2 the model:
D weights and the bias (padded with zeros to the same length). The parties compute
sigmoid(X·w + b) for every sample without seeing X or w: one fixed-point matrix-vector product
and a piecewise-linear sigmoid, sigmoid approximated by
five linear pieces between knots, each selected with comparisons. Only the probabilities are revealed.

    mpc run --sim examples/logreg.toml
"""

import numpy as np

D = 4
# piecewise-linear sigmoid on [-6, 6]: (breakpoint, slope, intercept) of each piece
KNOTS = np.array([-6.0, -3.0, -1.0, 1.0, 3.0, 6.0])


def _pieces():
    ys = 1.0 / (1.0 + np.exp(-KNOTS))
    slopes = np.diff(ys) / np.diff(KNOTS)
    return ys, slopes


def sigmoid_approx(z):
    """The plaintext twin of the secure approximation."""
    ys, slopes = _pieces()
    out = np.where(z < KNOTS[0], 0.0, 1.0)
    for j in range(len(slopes)):
        seg = ys[j] + slopes[j] * (z - KNOTS[j])
        out = np.where((z >= KNOTS[j]) & (z < KNOTS[j + 1]), seg, out)
    return out


async def main(session, my_input):
    from protocols.secarray import where

    inputs = await session.inputs(my_input)
    x, model = inputs[1], inputs[2]
    m = x.size // D
    X = x.reshape(m, D)
    w, b = model[:D], model[D]
    z = X @ w + b.broadcast_to(m)  # one fixed-point matrix-vector product, truncated once per output
    ys, slopes = _pieces()
    # every piece and every comparison is independent: one batched layer of each
    out = where(z < KNOTS[0], 0.0, 1.0)
    for j in range(len(slopes)):
        seg = (z - KNOTS[j]) * slopes[j] + ys[j]
        inside = (z >= KNOTS[j]) * (z < KNOTS[j + 1])
        out = where(inside, seg, out)
    return await out.reveal()


def reference(inputs, options):
    x = np.asarray(inputs[1], dtype=float)
    model = np.asarray(inputs[2], dtype=float)
    X = x.reshape(-1, D)
    return sigmoid_approx(X @ model[:D] + model[D])
