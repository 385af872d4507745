__all__ = []  # filled in by the op library work in progress
