"""Keras callbacks: ``ember.train``'s, with Keras' names and arguments (``EarlyStopping(monitor=
'val_loss', patience=3, restore_best_weights=True)``, ``ModelCheckpoint(filepath,
save_best_only=True)``, ``LearningRateScheduler(schedule)``, ``ReduceLROnPlateau``, ``CSVLogger``,
``TerminateOnNaN``, ``LambdaCallback``, ``History``; subclass ``Callback`` for your own).
"""
from ..train.callbacks import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback,
                               LearningRateScheduler, ModelCheckpoint, ProgbarLogger,
                               ReduceLROnPlateau, TerminateOnNaN)

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "History",
           "ProgbarLogger"]
