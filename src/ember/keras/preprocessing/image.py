"""``keras.preprocessing.image``: the Pillow image helpers (see ``ember.keras.utils``)."""
from ..utils.image_utils import array_to_img, img_to_array, load_img, save_img

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
