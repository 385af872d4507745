"""Seed 002 on ember: Dense(2, relu, input_dim=1) -> Dense(1) regression with mean squared error.

The seed's program with only its imports changed (ember.keras for keras).  The seed trains on
``x_train`` / ``y_train`` without defining them; the lines marked "ember: added" give it a
one-dimensional target of our choosing and report how well it fits:

    y = softplus(4x) / 4 + 0.2 + noise,   x uniform in [-1, 1], noise ~ N(0, 0.05^2), 1000 samples

a smooth ramp (flat on the left, slope 1 on the right) that the network's two ReLU units can
approximate with their kinks.  Printed at the end: the final mean squared error against the
target's variance (predicting the mean scores MSE = variance, R^2 = 0) and the noise variance
(the best any model can do, R^2 ~ 0.97).

    python examples/seed_002_regression.py

Note: with only two ReLU units and random initialisation, an occasional run (about 1 in 20 in our
trials) starts or drifts with both units inactive on every sample; the output is then the mean
(R^2 ~ 0) -- a property of the seed's tiny network (Keras behaves the same), so run it again.
"""
import numpy as np                                   # ember: added (the data below)
import ember.keras as keras                          # was: import keras
from ember.keras.models import Sequential            # was: from keras.models import Sequential
from ember.keras.layers import Dense                 # was: from keras.layers import Dense

# ember: added -- a 1-D regression target (the seed leaves x_train / y_train undefined)
rng = np.random.default_rng(0)
x_train = rng.uniform(-1.0, 1.0, size=1000).astype('float32')
noise = rng.normal(0.0, 0.05, size=1000)
y_train = (np.log1p(np.exp(4 * x_train)) / 4 + 0.2 + noise).astype('float32')

# 定义网络结构
model = Sequential()
model.add(Dense(units=2, activation='relu', input_dim=1))
model.add(Dense(units=1, activation='linear'))

# 编译模型
model.compile(loss='mean_squared_error', optimizer='adam')

# 训练模型
model.fit(x_train, y_train, epochs=100)

# ember: added -- how well it fits
mse = model.evaluate(x_train, y_train, verbose=0)
variance = float(np.var(y_train))
print(f'\nfinal MSE {mse:.4f} vs the target variance {variance:.4f} '
      f'(noise variance {0.05 ** 2:.4f}): R^2 = {1 - mse / variance:.3f}')
