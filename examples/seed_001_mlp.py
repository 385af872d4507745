"""Seed 001 on ember: the 784-128-64-10 MLP of the tutorial (section 4.1's program).

The seed's program with only its import changed (``import ember.keras.tf as tf``), plus the
command-line options of ``_seed_options`` (--dataset, --epochs, --limit):

    python examples/seed_001_mlp.py --dataset fashion_mnist [--epochs 5] [--limit N]

The seed uses ``x_train`` / ``y_train`` without defining them and reports no test accuracy; the
lines marked "ember: added" load the data the way the tutorials' other programs do (seed 003:
``mnist.load_data()``, pixels / 255), flatten the images to the 784 inputs the model declares,
and evaluate on the test set (seed 003's ``evaluate`` lines).
"""
from _seed_options import parse_options                     # ember: not in the seed
import ember.keras.tf as tf                                 # was: import tensorflow as tf

options = parse_options(__doc__, epochs=5)                  # ember: --dataset/--epochs/--limit

# ember: added -- the data (the seed leaves x_train / y_train undefined)
mnist = options.mnist                                       # as seed 003: tf.keras.datasets.mnist
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
x_train = x_train.reshape(len(x_train), 784)                # the model's input_shape is (784,)
x_test = x_test.reshape(len(x_test), 784)

# 定义神经网络结构
model = tf.keras.Sequential([
    tf.keras.layers.Dense(128, activation='relu', input_shape=(784,)),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])

# 编译模型
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

# 训练模型 (ember: epochs=options.epochs, the seed's 5 unless --epochs)
model.fit(x_train, y_train, epochs=options.epochs)

# ember: added -- the test accuracy (seed 003's evaluate lines)
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
print('\nTest accuracy:', test_acc)
