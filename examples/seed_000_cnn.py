"""Seed 000 on ember: the CNN of the tutorial, trained and evaluated (section 5's program).

The seed's program with only its imports changed (ember.keras for keras), plus the command-line
options of ``_seed_options`` (--dataset, --epochs, --limit):

    python examples/seed_000_cnn.py --dataset fashion_mnist [--epochs 3] [--limit N]

As written, the seed passes one-hot labels (``to_categorical``) to
'sparse_categorical_crossentropy', which takes integer labels (Keras itself stops with a shape
error).  ember's choice: the labels' meaning is unambiguous, so it trains on their arg-max (the
same loss) and warns once (``OneHotLabelsWarning``), naming the fix: drop ``to_categorical`` or
use loss='categorical_crossentropy'.  The program is kept as written.
"""
import numpy as np
import matplotlib.pyplot as plt
from _seed_options import parse_options                        # ember: not in the seed
from ember.keras.utils import to_categorical                   # was: from keras.utils import ...
from ember.keras.models import Sequential                      # was: from keras.models import ...
from ember.keras.layers import Dense, Flatten, Conv2D, MaxPooling2D   # was: from keras.layers ...

options = parse_options(__doc__, epochs=10)                    # ember: --dataset/--epochs/--limit
mnist = options.mnist                                          # was: from keras.datasets import mnist

# 5.2 加载数据
(x_train, y_train), (x_test, y_test) = mnist.load_data()

# 5.3 预处理
x_train = x_train.reshape(x_train.shape[0], 28, 28, 1)
x_test = x_test.reshape(x_test.shape[0], 28, 28, 1)
x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)

# 5.4 定义模型
model = Sequential()
model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dense(10, activation='softmax'))

# 5.5 编译模型
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

# 5.6 训练模型 (ember: epochs=options.epochs, the seed's 10 unless --epochs)
model.fit(x_train, y_train, batch_size=128, epochs=options.epochs, validation_data=(x_test, y_test))

# 5.7 评估模型
score = model.evaluate(x_test, y_test)
print('Test accuracy:', score[1])
