"""ember.backend.blas_threads: OpenBLAS single-threaded inside the block, restored after."""
import threading

import numpy as np
import pytest

from ember.backend import blas_threads

pytestmark = pytest.mark.skipif(not blas_threads.available(),
                                reason="NumPy's BLAS is not an OpenBLAS with openblas_set_num_threads")


def test_single_threaded_sets_one_thread_and_restores_the_count():
    before = blas_threads.blas_threads()
    with blas_threads.single_threaded():
        assert blas_threads.blas_threads() == 1
        with blas_threads.single_threaded():            # nested: still 1, restored once
            assert blas_threads.blas_threads() == 1
        assert blas_threads.blas_threads() == 1
        a = np.ones((300, 300), dtype=np.float32)
        assert float((a @ a)[0, 0]) == 300.0
    assert blas_threads.blas_threads() == before


def test_restored_after_an_exception_and_when_threads_overlap():
    before = blas_threads.blas_threads()
    with pytest.raises(ValueError):
        with blas_threads.single_threaded():
            raise ValueError("boom")
    assert blas_threads.blas_threads() == before
    inside, release = threading.Event(), threading.Event()

    def hold():
        with blas_threads.single_threaded():
            inside.set()
            release.wait(10)
    t = threading.Thread(target=hold)
    t.start()
    inside.wait(10)
    with blas_threads.single_threaded():                # overlaps the other thread's block
        pass
    assert blas_threads.blas_threads() == 1             # the other block still holds it
    release.set()
    t.join()
    assert blas_threads.blas_threads() == before
