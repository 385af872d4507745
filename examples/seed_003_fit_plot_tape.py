"""Seed 003 on ember: fit, evaluate, plot the history with matplotlib, then a GradientTape step.

The seed's complete program (section 5.2) with only its import changed
(``import ember.keras.tf as tf``), followed by its custom-training snippet (section 3.2:
``tf.GradientTape``, ``tape.gradient``, ``model.optimizer.apply_gradients``) and its evaluation,
plus the command-line options of ``_seed_options`` (--dataset, --epochs, --limit):

    python examples/seed_003_fit_plot_tape.py --dataset fashion_mnist [--epochs 10] [--limit N]
    python examples/seed_003_fit_plot_tape.py --dataset fashion_mnist --as-written

As written, the seed's model applies ``Dense`` to (28, 28, 1) images without ``Flatten``: under
Keras semantics a Dense acts on the last axis, so the model outputs (N, 28, 28, 10) -- one
prediction per pixel -- which cannot pair with the labels (N,).  ``--as-written`` runs that model
unchanged: ember stops before the first training step with an error naming both shapes and the fix
(add ``Flatten``).  By default the corrected model runs: ``Flatten(input_shape=input_shape)``
first, then the same Dense layers.

The figure: the seed's plotting lines are kept; ember adds one ``plt.savefig`` so the curves are
also written to ``seed_003_history.png`` in the working directory (``plt.show()`` needs a display;
without one matplotlib uses its non-interactive Agg backend and ``show`` does nothing).
"""
import warnings

from _seed_options import parse_options          # ember: not in the seed
import ember.keras.tf as tf                      # was: import tensorflow as tf
import numpy as np
import matplotlib.pyplot as plt

options = parse_options(__doc__, epochs=10, as_written=True)    # ember: command-line options


# 函数：创建神经网络模型 (as written in the seed: Dense directly on the (28, 28, 1) images)
def create_model_as_written(input_shape):
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(units=128, activation='relu', input_shape=input_shape),
        tf.keras.layers.Dense(units=64, activation='relu'),
        tf.keras.layers.Dense(units=10, activation='softmax')
    ])
    return model


# ember: the corrected model -- Flatten the images first
def create_model(input_shape):
    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=input_shape),
        tf.keras.layers.Dense(units=128, activation='relu'),
        tf.keras.layers.Dense(units=64, activation='relu'),
        tf.keras.layers.Dense(units=10, activation='softmax')
    ])
    return model


if options.as_written:                           # ember: --as-written runs the seed's model
    create_model = create_model_as_written


# 函数：训练模型
def train_model(model, x_train, y_train, epochs, batch_size):
    model.compile(optimizer='adam',
                  loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size)
    return history

# 函数：评估模型
def evaluate_model(model, x_test, y_test):
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
    print('\nTest accuracy:', test_acc)

# 数据加载和预处理
mnist = options.mnist                            # was: mnist = tf.keras.datasets.mnist (--dataset)
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

# 扩展数据维度
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)

# 创建模型
model = create_model(input_shape=(28, 28, 1))

# 训练模型 (ember: epochs=options.epochs, the seed's 10 unless --epochs)
history = train_model(model, x_train, y_train, epochs=options.epochs, batch_size=32)

# 评估模型
evaluate_model(model, x_test, y_test)

# 可视化训练过程
plt.plot(history.history['accuracy'], label='accuracy')
plt.plot(history.history['loss'], label='loss')
plt.xlabel('epochs')
plt.ylabel('accuracy/loss')
plt.legend()
plt.savefig('seed_003_history.png')             # ember: added -- the figure as a file, too
print('[ember] figure saved to seed_003_history.png')
with warnings.catch_warnings():                  # ember: no display -> Agg, where show() only warns
    warnings.filterwarnings('ignore', message='.*non-interactive')
    plt.show()

# 反向传播 (section 3.2): one custom training step with GradientTape, then the evaluation again
with tf.GradientTape() as tape:
    predictions = model(x_train)
    loss = tf.keras.losses.sparse_categorical_crossentropy(y_train, predictions)

grads = tape.gradient(loss, model.trainable_variables)
model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
print('[ember] GradientTape step: mean training loss', float(np.mean(loss.numpy())))   # ember: added

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
print('\nTest accuracy:', test_acc)
