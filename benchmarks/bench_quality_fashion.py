"""Quality bars of issue 8 on Fashion-MNIST: ember (the seed programs' Keras code) and PyTorch
2.13 under the same protocol, in one run.

Protocol (both frameworks):

* data: Fashion-MNIST (Debian's dataset-fashion-mnist), all 60000 training images, pixels / 255
  as float32; test accuracy on all 10000 test images after every epoch;
* seed CNN (seed 000): Conv2D(32, 3x3, relu) -> MaxPool 2x2 -> Flatten -> Dense(128, relu) ->
  Dense(10, softmax), batch 128, 3 epochs;  bar >= 89%;
* seed MLP (seed 001): Dense 784-128-64-10 (relu, relu, softmax), batch 32 (Keras' default, which
  the seed uses), 5 epochs;  bar >= 86%;
* Keras' defaults: glorot-uniform kernels, zero biases, Adam(lr 1e-3, beta1 0.9, beta2 0.999,
  epsilon 1e-7), sparse categorical cross-entropy (PyTorch: cross_entropy on the logits, the
  same function), a new shuffle each epoch, nothing tuned.

ember runs the seed programs' own code (``ember.keras``: Sequential, compile('adam',
'sparse_categorical_crossentropy', ['accuracy']), fit, evaluate).  PyTorch builds the same
layers (NCHW for the convolution), initialises them with ``xavier_uniform_`` / zeros (Keras'
glorot-uniform uses the same fans for a convolution kernel) and trains with
``torch.optim.Adam(eps=1e-7)``.  (Keras' Adam puts epsilon outside the bias correction --
``m_hat / (sqrt(v_hat) + eps_hat)`` with a rescaled epsilon; at 1e-7 the two differ negligibly.)

    flock /tmp/ember-cpu.lock python benchmarks/bench_quality_fashion.py --model cnn --framework ember
    flock /tmp/ember-cpu.lock python benchmarks/bench_quality_fashion.py --model cnn --framework torch
    python benchmarks/bench_quality_fashion.py --model mlp --seeds 0 1 ...

Each (model, framework, seed) prints one Markdown row; a run stays under 10 minutes per model on
this 2-core machine, so they can be run one by one under the shared CPU lock.
"""
import argparse
import datetime
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.datasets import fashion_mnist  # noqa: E402

SETTINGS = {"cnn": {"batch_size": 128, "epochs": 3, "bar": 0.89},
            "mlp": {"batch_size": 32, "epochs": 5, "bar": 0.86}}


def load_data():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = (x_train.astype(np.float32) / 255.0)[..., None]       # (N, 28, 28, 1)
    x_test = (x_test.astype(np.float32) / 255.0)[..., None]
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


# -- ember: the seed programs' code ---------------------------------------------------------------
def ember_model(kind, optimizer='adam'):
    import ember.keras.tf as tf
    from ember.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from ember.keras.models import Sequential
    if kind == "cnn":                                   # seed 000
        model = Sequential()
        model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1)))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Flatten())
        model.add(Dense(128, activation='relu'))
        model.add(Dense(10, activation='softmax'))
    else:                                               # seed 001
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(128, activation='relu', input_shape=(784,)),
            tf.keras.layers.Dense(64, activation='relu'),
            tf.keras.layers.Dense(10, activation='softmax')
        ])
    if optimizer == "torch_adam":
        # PyTorch's Adam formula (epsilon added to sqrt(v_hat)), to tell optimizer differences
        # from the rest of the protocol
        optimizer = ember.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    model.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def run_ember(kind, seed, data, optimizer="adam"):
    x_train, y_train, x_test, y_test = data
    if kind == "mlp":
        x_train, x_test = x_train.reshape(-1, 784), x_test.reshape(-1, 784)
    ember.manual_seed(seed)
    model = ember_model(kind, optimizer)
    s = SETTINGS[kind]
    accuracies, seconds = [], 0.0
    for epoch in range(s["epochs"]):
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=s["batch_size"], epochs=epoch + 1,
                  initial_epoch=epoch, verbose=0)
        seconds += time.perf_counter() - start
        accuracies.append(model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1])
    return accuracies, seconds


# -- PyTorch: the same layers, initialisation and optimizer ---------------------------------------
def torch_model(kind):
    import torch
    nn = torch.nn
    if kind == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64),
                              nn.ReLU(), nn.Linear(64, 10))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)           # = Keras' glorot_uniform (same fans)
            nn.init.zeros_(m.bias)
    return model


def run_torch(kind, seed, data):
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = data
    # NCHW for PyTorch's convolution (the images have one channel: a reshape)
    xt = torch.from_numpy(np.ascontiguousarray(x_train.reshape(-1, 1, 28, 28)))
    yt = torch.from_numpy(y_train)
    xv = torch.from_numpy(np.ascontiguousarray(x_test.reshape(-1, 1, 28, 28)))
    yv = torch.from_numpy(y_test)
    model = torch_model(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    s = SETTINGS[kind]
    generator = torch.Generator().manual_seed(seed)
    accuracies, seconds = [], 0.0
    for _ in range(s["epochs"]):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        for i in range(0, len(xt), s["batch_size"]):
            idx = order[i:i + s["batch_size"]]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([model(xv[i:i + 1000]).argmax(1) for i in range(0, len(xv), 1000)])
        accuracies.append(float((predicted == yv).float().mean()))
    return accuracies, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["cnn", "mlp"], nargs="+", default=["cnn", "mlp"])
    parser.add_argument("--framework", choices=["ember", "torch", "ember_torch_adam"], nargs="+",
                        default=["ember", "torch"],
                        help="ember_torch_adam: ember with PyTorch's Adam formula (a diagnostic)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    data = load_data()
    import torch
    print(f"# {datetime.date.today()} numpy {np.__version__}, torch {torch.__version__}, "
          f"ember {ember.__version__}, {os.cpu_count()} cores, threads "
          f"{os.environ.get('OMP_NUM_THREADS')}")
    print("| model | framework | seed | batch | test accuracy per epoch | final | bar | "
          "training time |")
    print("|---|---|---:|---:|---|---:|---|---:|")
    for kind in args.model:
        s = SETTINGS[kind]
        for framework in args.framework:
            for seed in args.seeds:
                if framework == "torch":
                    accuracies, seconds = run_torch(kind, seed, data)
                else:
                    accuracies, seconds = run_ember(
                        kind, seed, data, "torch_adam" if framework == "ember_torch_adam" else "adam")
                per_epoch = ", ".join(f"{a:.4f}" for a in accuracies)
                verdict = "met" if accuracies[-1] >= s["bar"] else "MISSED"
                print(f"| {kind} | {framework} | {seed} | {s['batch_size']} | {per_epoch} | "
                      f"{accuracies[-1]:.2%} | >= {s['bar']:.0%}: {verdict} | {seconds:.0f} s |",
                      flush=True)


if __name__ == "__main__":
    main()
